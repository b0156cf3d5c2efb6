//! What Microsoft Sentinel Repositories does with this target's folder, replayed.
//!
//! Repositories' deployment script (the `azure-sentinel-deploy-*.ps1` it writes into the
//! connected repository) walks every `*.json` below the deployed directory, except names
//! ending in `metadata.json` or holding `.parameters`, and except the paths that
//! `sentinel-deployment.config` (at the repository root) lists under `excludecontentfiles`,
//! matched as case-insensitive prefixes; an entry naming no existing file is dropped without
//! a word. It deploys a file only if every resource in it is of a type of the selected
//! content (for analytics rules `Microsoft.OperationalInsights/workspaces/providers/alertRules`),
//! passing the workspace name as the `workspace` parameter and nothing else. A file it skips
//! deploys nothing; a rule in two files it deploys is deployed twice, and two files fight
//! over it whenever either changes.
//!
//! [`check`] replays that walk on the rendered folder, so a template override or a layout
//! change that Repositories would skip or deploy twice fails `rulecast check`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The file Repositories reads its settings from, written into this target's folder.
pub(crate) const CONFIG_FILE: &str = "sentinel-deployment.config";

/// The resource types Repositories deploys as analytics rules.
pub(crate) const ANALYTICS_RULE_TYPES: &[&str] = &[
    "Microsoft.OperationalInsights/workspaces/providers/alertRules",
    "Microsoft.OperationalInsights/workspaces/providers/alertRules/actions",
];

/// Whether the script's walk visits a file, by its name alone.
fn walked(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
    Path::new(&name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        && !name.ends_with("metadata.json")
        && !name.contains(".parameters")
}

/// The rule id in an analytics rule's name,
/// `[concat(parameters('workspace'),'/Microsoft.SecurityInsights/<id>')]`.
fn rule_id(name: &str) -> Option<String> {
    let (_, rest) = name.split_once("/Microsoft.SecurityInsights/")?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    (!id.is_empty()).then(|| id.to_lowercase())
}

/// Every way Repositories would fail to deploy the folder's rules exactly once. `files` are
/// the folder's files by their path in it.
#[cfg(test)]
pub(crate) fn check(files: &BTreeMap<std::path::PathBuf, String>) -> Vec<String> {
    let mut walk = Walk::default();
    // The config first, so the files it excludes are not read.
    let config = files.get_key_value(Path::new(CONFIG_FILE));
    for (path, text) in config
        .into_iter()
        .chain(files.iter().filter(|(p, _)| *p != Path::new(CONFIG_FILE)))
    {
        walk.read_back(path, text);
    }
    walk.finish()
}

/// What one file that the walk visits would deploy.
#[derive(Debug, Default)]
struct Deployment {
    /// Why Repositories would skip it or fail on it.
    problems: Vec<String>,
    /// Each resource's rule id, or why its name gives none.
    rules: Vec<Result<String, String>>,
}

/// [`check`], one file at a time: the folder's paths, the deployment config and what each
/// template the walk may visit deploys are kept; the rules are applied in [`Walk::finish`], when
/// the whole folder is known. A template rendered by the built-in one is never read: its rule id
/// is given ([`Walk::rules`]).
#[derive(Debug, Default)]
pub(crate) struct Walk {
    paths: Vec<String>,
    config: Option<Result<Vec<String>, String>>,
    deployments: BTreeMap<String, Deployment>,
}

/// A path of the folder in the form Repositories and the config write it.
fn path_of(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

impl Walk {
    /// Reads one file of the folder.
    pub(crate) fn read_back(&mut self, path: &Path, text: &str) {
        let path = path_of(path);
        if path == CONFIG_FILE {
            self.config = Some(
                serde_json::from_str::<Value>(text)
                    .map(|config| {
                        config
                            .get("excludecontentfiles")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .map(|entry| entry.as_str().unwrap_or_default().to_owned())
                            .collect()
                    })
                    .map_err(|e| e.to_string()),
            );
        } else if walked(&path) && !self.excluded(&path) {
            let deployment = deployment(&path, text);
            let into = self.deployments.entry(path.clone()).or_default();
            into.problems.extend(deployment.problems);
            into.rules.extend(deployment.rules);
        }
        self.add_path(path);
    }

    /// A template of the folder, not read, that deploys the analytics rules `ids` (as
    /// `<workspace>/Microsoft.SecurityInsights/<id>`) and nothing else.
    pub(crate) fn rules(&mut self, path: &Path, ids: &[String]) {
        let path = path_of(path);
        if walked(&path) {
            let into = self.deployments.entry(path.clone()).or_default();
            into.rules
                .extend(ids.iter().map(|id| Ok(id.to_lowercase())));
        }
        self.add_path(path);
    }

    /// Whether the config, if already seen, excludes the file `path` by name (a file it
    /// excludes need not be read: the combined template is tens of megabytes).
    fn excluded(&self, path: &str) -> bool {
        let Some(Ok(entries)) = &self.config else {
            return false;
        };
        entries
            .iter()
            .any(|entry| entry == path || entry.ends_with(&format!("/{path}")))
    }

    fn add_path(&mut self, path: String) {
        // A file built on a skeleton is seen twice: its skeleton, then its rules.
        if self.paths.last() != Some(&path) {
            self.paths.push(path);
        }
    }

    /// The problems, once every file of the folder has been seen.
    pub(crate) fn finish(self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut excludes: Vec<String> = Vec::new();
        match self.config {
            None => problems.push(format!(
                "{CONFIG_FILE} is missing: without it Repositories deploys the combined template \
                 too, and every rule twice"
            )),
            Some(Err(e)) => problems.push(format!("{CONFIG_FILE} is not JSON: {e}")),
            Some(Ok(entries)) => {
                for entry in entries {
                    // Entries are relative to the repository root; the folder's files are
                    // relative to the folder. An entry must end in one of the files, or
                    // Repositories drops it.
                    match self
                        .paths
                        .iter()
                        .find(|p| entry == **p || entry.ends_with(&format!("/{p}")))
                    {
                        Some(file) => excludes.push(file.to_lowercase()),
                        None => problems.push(format!(
                            "{CONFIG_FILE} excludes `{entry}`, which is no file of this folder; \
                             Repositories ignores it"
                        )),
                    }
                }
            }
        }
        let mut deployed_by: BTreeMap<String, String> = BTreeMap::new();
        for (path, deployment) in self.deployments {
            if excludes.iter().any(|e| path.to_lowercase().starts_with(e)) {
                continue;
            }
            problems.extend(deployment.problems);
            for rule in deployment.rules {
                match rule {
                    Err(problem) => problems.push(problem),
                    Ok(id) => {
                        if let Some(first) = deployed_by.insert(id.clone(), path.clone()) {
                            problems.push(format!(
                                "rule {id} is deployed twice by Repositories: by {first} and by {path}"
                            ));
                        }
                    }
                }
            }
        }
        if deployed_by.is_empty() {
            problems
                .push("Repositories would deploy no analytics rule from this folder".to_owned());
        }
        problems
    }
}

/// What the template at `path` (one the walk visits) would deploy.
fn deployment(path: &str, text: &str) -> Deployment {
    let mut out = Deployment::default();
    let template: Value = match serde_json::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            out.problems
                .push(format!("{path}: Repositories cannot read it: {e}"));
            return out;
        }
    };
    let Some(resources) = template.get("resources").and_then(Value::as_array) else {
        out.problems.push(format!(
            "{path}: Repositories skips it: `resources` is not a list (no languageVersion 2.0)"
        ));
        return out;
    };
    let foreign: Vec<&str> = resources
        .iter()
        .map(|r| r.get("type").and_then(Value::as_str).unwrap_or("(none)"))
        .filter(|t| {
            !ANALYTICS_RULE_TYPES
                .iter()
                .any(|a| a.eq_ignore_ascii_case(t))
        })
        .collect();
    if !foreign.is_empty() {
        out.problems.push(format!(
            "{path}: Repositories skips it: resource type {} is not {}",
            foreign.join(", "),
            ANALYTICS_RULE_TYPES[0]
        ));
        return out;
    }
    let parameters = template.get("parameters").and_then(Value::as_object);
    if !parameters.is_some_and(|p| p.keys().any(|k| k.eq_ignore_ascii_case("workspace"))) {
        out.problems.push(format!(
            "{path}: it has no `workspace` parameter, the only one Repositories fills"
        ));
    }
    for (name, parameter) in parameters.into_iter().flatten() {
        if !name.eq_ignore_ascii_case("workspace") && parameter.get("defaultValue").is_none() {
            out.problems.push(format!(
                "{path}: parameter `{name}` has no defaultValue; Repositories fills only \
                 `workspace`, so validation fails"
            ));
        }
    }
    for resource in resources {
        let name = resource
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.rules.push(rule_id(name).ok_or_else(|| {
            format!("{path}: rule name `{name}` is not <workspace>/Microsoft.SecurityInsights/<id>")
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn rule(id: &str) -> String {
        format!(
            r#"{{"parameters": {{"workspace": {{"type": "string"}}}}, "resources": [{{
              "type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
              "name": "[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{id}')]"}}]}}"#
        )
    }

    const A: &str = "0b3a6f2e-8a4e-4c1b-9f55-3f1c2d4e5a6b";
    const B: &str = "11111111-8a4e-4c1b-9f55-3f1c2d4e5a6b";

    fn folder() -> BTreeMap<PathBuf, String> {
        let combined = format!(
            r#"{{"parameters": {{"workspace": {{"type": "string"}}}}, "resources": [{}, {}]}}"#,
            serde_json::from_str::<Value>(&rule(A)).unwrap()["resources"][0],
            serde_json::from_str::<Value>(&rule(B)).unwrap()["resources"][0],
        );
        BTreeMap::from([
            (PathBuf::from("arm/a.json"), rule(A)),
            (PathBuf::from("arm/b.json"), rule(B)),
            (PathBuf::from("azuredeploy.json"), combined),
            (PathBuf::from("rules/x/a.yaml"), "id: x".to_owned()),
            (
                PathBuf::from(CONFIG_FILE),
                r#"{"excludecontentfiles": ["generated/sentinel/azuredeploy.json"]}"#.to_owned(),
            ),
        ])
    }

    #[test]
    fn each_rule_deployed_once_passes() {
        assert_eq!(check(&folder()), Vec::<String>::new());
    }

    #[test]
    fn each_way_of_not_deploying_exactly_once_fails() {
        let mut no_config = folder();
        no_config.remove(Path::new(CONFIG_FILE));
        let problems = check(&no_config);
        assert!(
            problems.iter().any(|p| p.contains("is missing")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("deployed twice")),
            "{problems:?}"
        );

        let mut stale_exclude = folder();
        stale_exclude.insert(
            PathBuf::from(CONFIG_FILE),
            r#"{"excludecontentfiles": ["generated/sentinel/all.json"]}"#.to_owned(),
        );
        let problems = check(&stale_exclude);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("Repositories ignores it")),
            "{problems:?}"
        );

        let mut extension_form = folder();
        extension_form.insert(
            PathBuf::from("arm/a.json"),
            rule(A).replace(
                "Microsoft.OperationalInsights/workspaces/providers/alertRules",
                "Microsoft.SecurityInsights/alertRules",
            ),
        );
        let problems = check(&extension_form);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("arm/a.json: Repositories skips it")),
            "{problems:?}"
        );

        let mut other_parameter = folder();
        other_parameter.insert(
            PathBuf::from("arm/a.json"),
            rule(A).replace(r#""workspace""#, r#""workspaceName""#),
        );
        let problems = check(&other_parameter);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no `workspace` parameter")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("has no defaultValue")),
            "{problems:?}"
        );

        // A file the walk skips by name deploys nothing, and so is no second copy.
        let mut metadata = folder();
        let combined = metadata.remove(Path::new("azuredeploy.json")).unwrap();
        metadata.insert(PathBuf::from("all-metadata.json"), combined);
        assert!(
            check(&metadata)
                .iter()
                .any(|p| p.contains("Repositories ignores it"))
        );
    }
}
