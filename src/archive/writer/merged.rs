//! The merged file of each contact or calendar collection (one .vcf or .ics holding
//! every item), written as soon as the collection is complete.

use super::*;

/// The item kinds a collection's merged file holds, and its extension; `None` for photos.
pub(super) fn merge_kinds(kind: CollectionKind) -> Option<(&'static [ItemKind], &'static str)> {
    match kind {
        CollectionKind::Contacts => Some((&[ItemKind::Contact], "vcf")),
        CollectionKind::Calendar => {
            Some((&[ItemKind::Event, ItemKind::Todo, ItemKind::Journal], "ics"))
        }
        CollectionKind::Photos => None,
    }
}

/// (path, SHA-256) of a collection's items that go into its merged file, in merge order.
pub(super) fn merge_members(
    items: &[ManifestItem],
    collection: &str,
    kinds: &[ItemKind],
) -> Vec<(String, Sha256)> {
    let mut members: Vec<(String, Sha256)> = items
        .iter()
        .filter(|i| i.collection == collection && kinds.contains(&i.kind))
        .map(|i| (i.path.clone(), i.sha256.clone()))
        .collect();
    members.sort();
    members
}

impl ArchiveWriter {
    /// Writes the merged file of the collection at `path` now that all its items are in.
    pub(super) fn merge_complete_collection(&self, path: &str) -> Result<()> {
        let (collection, location, members) = {
            let state = self.state();
            let Some(collection) = state.collections.iter().find(|c| c.path == path).cloned()
            else {
                return Ok(());
            };
            let location = state
                .sources
                .get(collection.source)
                .map_or_else(String::new, |s| s.location.clone());
            let members: Vec<ManifestItem> = state
                .items
                .iter()
                .filter(|i| i.collection == path)
                .cloned()
                .collect();
            (collection, location, members)
        };
        if let Some(merged) = self.write_merged(&collection, &location, &members)? {
            let mut state = self.state();
            if let Some(done) = state.collections.iter_mut().find(|c| c.path == path) {
                done.merged = Some(merged.path.clone());
            }
            state.files.push(merged);
        }
        Ok(())
    }

    /// The collection's items joined into one importable file, from their archived bytes.
    /// Streams from disk: only VTIMEZONEs and the calendar header stay in memory.
    pub(super) fn write_merged(
        &self,
        collection: &ManifestCollection,
        location: &str,
        items: &[ManifestItem],
    ) -> Result<Option<ManifestFile>> {
        let Some((wanted, extension)) = merge_kinds(collection.info.kind) else {
            return Ok(None);
        };
        let mut members: Vec<&ManifestItem> = items
            .iter()
            .filter(|i| i.collection == collection.path && wanted.contains(&i.kind))
            .collect();
        if members.is_empty() {
            return Ok(None);
        }
        members.sort_by(|a, b| a.path.cmp(&b.path));
        let slug = collection.path.rsplit('/').next().unwrap_or("collection");
        let relative = format!(
            "merged/{}/{slug}.{extension}",
            collection.info.kind.folder()
        );
        // The same members as last time make the same file: link it instead of reading every
        // item back to build it again.
        if let Some(earlier) = self.link_from.as_ref().and_then(|from| {
            from.merged
                .get(&(location.to_owned(), collection.info.href.clone()))
        }) && earlier
            .members
            .iter()
            .map(|(path, sha)| (path.as_str(), sha.as_str()))
            .eq(members.iter().map(|i| (i.path.as_str(), i.sha256.as_str())))
            && self.link_previous(&earlier.file.path, &relative, &earlier.file.sha256)?
        {
            return Ok(Some(ManifestFile {
                path: relative,
                ..earlier.file.clone()
            }));
        }
        let path = self.staging.join(&relative);
        self.make_parent(&path)?;
        let file = std::fs::File::create(&path).map_err(io("writing", &path))?;
        let mut out = HashingWriter::new(std::io::BufWriter::new(file));
        let read = |item: &ManifestItem| {
            let item_path = self.staging.join(&item.path);
            std::fs::read(&item_path).map_err(io("reading back", &item_path))
        };
        let write_err = io("writing", &path);
        let result: std::io::Result<()> = (|| {
            if collection.info.kind == CollectionKind::Contacts {
                for item in &members {
                    let bytes = read(item).map_err(std::io::Error::other)?;
                    let mut card = Vec::with_capacity(bytes.len() + 2);
                    vobject::append_vcard(&mut card, &bytes);
                    out.write_all(&card)?;
                }
            } else {
                let mut head = vobject::MergedCalendar::default();
                for item in &members {
                    head.add_header_and_timezones(&read(item).map_err(std::io::Error::other)?);
                }
                out.write_all(&head.opening())?;
                for item in &members {
                    out.write_all(&vobject::components_of(
                        &read(item).map_err(std::io::Error::other)?,
                    ))?;
                }
                out.write_all(vobject::MergedCalendar::closing())?;
            }
            out.flush()
        })();
        result.map_err(write_err)?;
        let (sha256, size) = out.finish();
        self.dedupe(&relative, &sha256);
        Ok(Some(ManifestFile {
            path: relative,
            role: "merged".to_owned(),
            sha256,
            size,
        }))
    }
}
