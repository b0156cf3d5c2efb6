//! Reproducible archives: the same files always give the same bytes.
//!
//! Consumers verify releases by checksum, and a reviewer can rebuild a release from its tag and
//! compare; both need archives that depend on nothing but the files in them. So entries are
//! sorted, every timestamp is 1980-01-01 00:00:00 UTC (the earliest a zip can hold, used for the
//! tar too so both agree), modes are fixed (0644 files, 0755 folders), owners are root with no
//! names, and the gzip header carries no file name, time or host system.

use std::collections::BTreeSet;
use std::io::{Cursor, Write};

use flate2::{Compression, GzBuilder};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// Files of an archive: path inside it -> content. Sorted by path.
pub(crate) use crate::targets::package::Entries;

/// 1980-01-01T00:00:00Z as a Unix time.
pub(crate) const FIXED_MTIME: u64 = 315_532_800;
/// gzip's "unknown operating system".
const GZIP_OS_UNKNOWN: u8 = 255;

/// A zip archive of `entries`.
pub(crate) fn zip(entries: &Entries) -> std::io::Result<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(DateTime::DEFAULT)
        // The host system is recorded otherwise, which would make Windows builds differ.
        .system(System::Unix)
        .unix_permissions(0o644);
    for (path, content) in entries {
        writer
            .start_file(path.as_str(), options)
            .map_err(std::io::Error::other)?;
        writer.write_all(content)?;
    }
    Ok(writer.finish().map_err(std::io::Error::other)?.into_inner())
}

/// A gzip-compressed tar archive of `entries`, with an entry for every folder.
pub(crate) fn tar_gz(entries: &Entries) -> std::io::Result<Vec<u8>> {
    let folders: BTreeSet<String> = entries
        .keys()
        .flat_map(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            (1..parts.len()).map(move |n| format!("{}/", parts[..n].join("/")))
        })
        .collect();
    let mut items: Vec<(&str, Option<&[u8]>)> =
        folders.iter().map(|f| (f.as_str(), None)).collect();
    items.extend(
        entries
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_slice()))),
    );
    // Folders before the files in them; plain byte order puts "a/" before "a/b".
    items.sort_by(|a, b| a.0.cmp(b.0));

    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in items {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        match content {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, path, std::io::empty())?;
            }
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, path, bytes)?;
            }
        }
    }
    let tar = builder.into_inner()?;
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), Compression::new(6));
    gz.write_all(&tar)?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries() -> Entries {
        [
            ("app/default/app.conf", "[launcher]\nversion = 1.2.0\n"),
            ("app/README.md", "hi\n"),
            ("a.txt", "x"),
        ]
        .into_iter()
        .map(|(p, c)| (p.to_owned(), c.as_bytes().to_vec()))
        .collect()
    }

    #[test]
    fn archives_are_byte_identical_across_runs() {
        assert_eq!(zip(&entries()).unwrap(), zip(&entries()).unwrap());
        assert_eq!(tar_gz(&entries()).unwrap(), tar_gz(&entries()).unwrap());
    }

    #[test]
    fn zip_entries_are_sorted_with_fixed_metadata() {
        let bytes = zip(&entries()).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names.len(), 3);
        for (i, name) in sorted.iter().enumerate() {
            let file = archive.by_index(i).unwrap();
            assert_eq!(&file.name().unwrap(), name);
            assert_eq!(file.last_modified(), Some(DateTime::DEFAULT));
            assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o644));
        }
        let mut text = String::new();
        archive
            .by_name("app/default/app.conf")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("version = 1.2.0"));
    }

    #[test]
    fn tar_has_folders_fixed_owners_and_times() {
        let bytes = tar_gz(&entries()).unwrap();
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "gzip mtime is zero");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!(
                (
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    header.mtime().unwrap()
                ),
                (0, 0, FIXED_MTIME)
            );
            assert_eq!(header.username().unwrap(), Some(""));
            seen.push(entry.path().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(
            seen,
            [
                "a.txt",
                "app/",
                "app/README.md",
                "app/default/",
                "app/default/app.conf"
            ]
        );
    }
}
