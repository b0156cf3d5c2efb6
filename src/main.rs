fn main() -> std::process::ExitCode {
    rulecast::cli::main()
}
