//! The engine's view of local files: `object_store`'s `LocalFileSystem`, except that reads happen
//! in place.
//!
//! `LocalFileSystem` hands every read to tokio's blocking pool. A warehouse table is hundreds of
//! small Parquet files (one per source file and day), each read twice (footer, then columns), so
//! a scan was mostly threads waking each other: a fifth of a 30-day pipeline's time went to
//! the scheduler (profiled). Reading a few kilobytes from the page cache takes less time than
//! that hand-off, so plain reads are done on the calling thread. Everything else (listing,
//! conditional reads, writes) goes to `LocalFileSystem` unchanged.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path as FsPath;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::object_store::Error as StoreError;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::stream::{self, BoxStream};

/// Local files, read on the calling thread.
#[derive(Debug, Default)]
pub struct LocalFiles {
    inner: LocalFileSystem,
}

impl LocalFiles {
    /// Makes this store the one the engine uses for `file://` paths.
    pub fn install(runtime: &RuntimeEnv) {
        let url = ObjectStoreUrl::local_filesystem();
        runtime.register_object_store(url.as_ref(), std::sync::Arc::new(LocalFiles::default()));
    }

    fn open(&self, location: &Path) -> Result<(File, std::path::PathBuf)> {
        let path = self.inner.path_to_filesystem(location)?;
        match File::open(&path) {
            Ok(file) => Ok((file, path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound { path: path.display().to_string(), source: Box::new(e) })
            }
            Err(e) => Err(io_error(&path, e)),
        }
    }
}

fn io_error(path: &FsPath, e: std::io::Error) -> StoreError {
    StoreError::Generic { store: "LocalFiles", source: format!("reading {}: {e}", path.display()).into() }
}

fn read_range(file: &mut File, path: &FsPath, range: Range<u64>) -> Result<Bytes> {
    let mut buf = vec![0; (range.end - range.start) as usize];
    file.seek(SeekFrom::Start(range.start)).map_err(|e| io_error(path, e))?;
    file.read_exact(&mut buf).map_err(|e| io_error(path, e))?;
    Ok(Bytes::from(buf))
}

/// The same ETag `LocalFileSystem` gives (inode, modification time and size), so that caches
/// keyed on it behave alike whichever store answered.
fn object_meta(location: &Path, metadata: &std::fs::Metadata) -> ObjectMeta {
    let modified = metadata.modified().ok();
    let micros =
        modified.and_then(|m| m.duration_since(std::time::SystemTime::UNIX_EPOCH).ok()).unwrap_or_default().as_micros();
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0u64;
    ObjectMeta {
        location: location.clone(),
        last_modified: modified.map(DateTime::<Utc>::from).unwrap_or_default(),
        size: metadata.len(),
        e_tag: Some(format!("{inode:x}-{micros:x}-{:x}", metadata.len())),
        version: None,
    }
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let conditional = options.if_match.is_some()
            || options.if_none_match.is_some()
            || options.if_modified_since.is_some()
            || options.if_unmodified_since.is_some()
            || options.version.is_some()
            || options.head;
        if conditional {
            return self.inner.get_opts(location, options).await;
        }
        let (mut file, path) = self.open(location)?;
        let metadata = file.metadata().map_err(|e| io_error(&path, e))?;
        let meta = object_meta(location, &metadata);
        let range = match &options.range {
            Some(r) => r.as_range(meta.size).map_err(|e| StoreError::Generic {
                store: "LocalFiles",
                source: format!("{}: {e}", path.display()).into(),
            })?,
            None => 0..meta.size,
        };
        let bytes = read_range(&mut file, &path, range.clone())?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async move { Ok(bytes) }))),
            meta,
            range,
            attributes: Default::default(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (mut file, path) = self.open(location)?;
        ranges.iter().map(|r| read_range(&mut file, &path, r.clone())).collect()
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::object_store::{GetRange, ObjectStoreExt};

    #[tokio::test(flavor = "multi_thread")]
    async fn reads_ranges_in_place_like_local_file_system_and_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.parquet");
        std::fs::write(&file, b"0123456789").unwrap();
        let store = LocalFiles::default();
        let path = Path::from_absolute_path(&file).unwrap();

        let ranges = store.get_ranges(&path, &[1..3, 7..10]).await.unwrap();
        assert_eq!(ranges, vec![Bytes::from_static(b"12"), Bytes::from_static(b"789")]);

        // A footer read: the last bytes, with the file's size and the ETag LocalFileSystem gives.
        let options = GetOptions { range: Some(GetRange::Suffix(4)), ..Default::default() };
        let got = store.get_opts(&path, options).await.unwrap();
        assert_eq!(got.range, 6..10);
        let theirs = LocalFileSystem::new().head(&path).await.unwrap();
        assert_eq!((got.meta.size, &got.meta.e_tag, got.meta.last_modified), (10, &theirs.e_tag, theirs.last_modified));
        assert_eq!(got.bytes().await.unwrap(), Bytes::from_static(b"6789"));

        let missing = Path::from_absolute_path(dir.path().join("b.parquet")).unwrap();
        let err = store.get_ranges(&missing, &[0..1]).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("b.parquet"), "{err}");
        let options = GetOptions { range: Some(GetRange::Bounded(8..20)), ..Default::default() };
        assert!(store.get_opts(&path, options).await.is_ok_and(|r| r.range == (8..10)));
    }
}
