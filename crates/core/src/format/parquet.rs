//! Parquet: every string and binary column (nested lists and structs of strings
//! included) is scanned, row groups in parallel. Only one column chunk of a row
//! group is held in memory at a time per worker, so memory is bounded by the row
//! group, not the file.
//!
//! Findings carry `row_group`, `record` (the row index in the file) and `field`
//! (the column path, such as `messages.list.element.content`). Their `start`/`end`
//! are byte offsets in the cell's value (Parquet pages are encoded and compressed,
//! so there is no meaningful offset in the file), and `line`/`column` are 1-based
//! within the value. Values that look binary (a NUL byte in their first 8 KiB, as
//! in embedded images) are skipped and counted in a warning.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::Type as PhysicalType;
use parquet::column::page::PageReader;
use parquet::column::reader::ColumnReaderImpl;
use parquet::data_type::{AsBytes, ByteArrayType, DataType, FixedLenByteArrayType};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader, RowGroupMetaData};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::schema::types::ColumnDescPtr;

use crate::engine::Match;
use crate::scan::{self, FormatOutput, Hit, ScanCtx};

/// View bytes gathered before a batch of values is scanned.
const BATCH: usize = 4 << 20;
/// Records read from a column at a time.
const RECORDS_PER_READ: usize = 4096;

/// The whole file, for reading the footer.
struct Whole<'a>(&'a [u8]);

impl Length for Whole<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl<'a> ChunkReader for Whole<'a> {
    type T = &'a [u8];

    fn get_read(&self, start: u64) -> parquet::errors::Result<&'a [u8]> {
        self.0
            .get(start as usize..)
            .ok_or_else(|| parquet::errors::ParquetError::EOF("offset past the end".into()))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let s = start as usize;
        self.0
            .get(s..s.saturating_add(length))
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| parquet::errors::ParquetError::EOF("range past the end".into()))
    }
}

/// The bytes of a Parquet file, and the shared buffer they are, when they are
/// one (a mapped input, a spilled stream, a zip member).
#[derive(Clone, Copy)]
struct FileBytes<'a> {
    bytes: &'a [u8],
    owner: Option<&'a Bytes>,
}

impl FileBytes<'_> {
    /// `range` of the file: a slice of the shared buffer, or else a copy.
    fn slice(&self, range: std::ops::Range<usize>) -> Bytes {
        match self.owner {
            Some(o) => o.slice(range),
            None => Bytes::copy_from_slice(&self.bytes[range]),
        }
    }
}

/// One column chunk (shared with the file's bytes, or copied out of them),
/// readable at its file offsets.
struct ColumnChunk {
    base: u64,
    data: Bytes,
}

impl Length for ColumnChunk {
    fn len(&self) -> u64 {
        self.base + self.data.len() as u64
    }
}

impl ChunkReader for ColumnChunk {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        use bytes::Buf;
        let at = start
            .checked_sub(self.base)
            .filter(|&a| a as usize <= self.data.len())
            .ok_or_else(|| {
                parquet::errors::ParquetError::EOF("offset outside the column chunk".into())
            })?;
        Ok(self.data.slice(at as usize..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let at = start.checked_sub(self.base).map(|a| a as usize);
        match at {
            Some(a) if a.checked_add(length).is_some_and(|e| e <= self.data.len()) => {
                Ok(self.data.slice(a..a + length))
            }
            _ => Err(parquet::errors::ParquetError::EOF(
                "range outside the column chunk".into(),
            )),
        }
    }
}

/// Scans a Parquet file held in `bytes`, its row groups on the threads of the
/// pool, handing each row group's hits to `on_hits` in row group order (the
/// output's `hits` stay empty); `gate` is called before a row group starts and may
/// wait.
pub(crate) fn scan_each(
    bytes: &[u8],
    owner: Option<&Bytes>,
    ctx: &ScanCtx<'_>,
    on_hits: &mut (dyn FnMut(Vec<Hit>) + Send),
    gate: &(dyn Fn() + Sync),
) -> FormatOutput {
    let meta = match ParquetMetaDataReader::new().parse_and_finish(&Whole(bytes)) {
        Ok(m) => m,
        Err(e) => {
            return FormatOutput {
                error: Some(format!("parquet: cannot read the file footer: {e}")),
                ..FormatOutput::default()
            }
        }
    };
    let schema = meta.file_metadata().schema_descr();
    let columns: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| {
            let c = schema.column(i);
            matches!(
                c.physical_type(),
                PhysicalType::BYTE_ARRAY | PhysicalType::FIXED_LEN_BYTE_ARRAY
            ) && ctx
                .fields
                .is_none_or(|f| f.selects_column(&c.path().string()))
        })
        .collect();
    let mut first_rows = Vec::with_capacity(meta.num_row_groups());
    let mut acc = 0u64;
    for rg in meta.row_groups() {
        first_rows.push(acc);
        acc += rg.num_rows().max(0) as u64;
    }
    let mut out = FormatOutput::default();
    scan::order::ordered(
        meta.num_row_groups(),
        |_| (),
        |rg, ()| {
            let file = FileBytes { bytes, owner };
            scan_row_group(file, &meta, rg, first_rows[rg], &columns, ctx)
        },
        |p: FormatOutput| {
            out.warnings.extend(p.warnings);
            scan::merge_stats(&mut out.stats, &p.stats);
            if !p.hits.is_empty() {
                on_hits(p.hits);
            }
        },
        gate,
    );
    out
}

fn scan_row_group(
    file: FileBytes<'_>,
    meta: &ParquetMetaData,
    rg: usize,
    first_row: u64,
    columns: &[usize],
    ctx: &ScanCtx<'_>,
) -> FormatOutput {
    let mut out = FormatOutput::default();
    let rg_meta = meta.row_group(rg);
    for &ci in columns {
        let descr = meta.file_metadata().schema_descr().column(ci);
        let path = descr.path().string();
        let mut col = ColumnScan {
            ctx,
            rg: rg as u64,
            field: path.clone(),
            view: Vec::new(),
            values: Vec::new(),
            skipped_binary: 0,
            out: &mut out,
        };
        let read = match descr.physical_type() {
            PhysicalType::BYTE_ARRAY => read_column::<ByteArrayType>,
            _ => read_column::<FixedLenByteArrayType>,
        };
        let result = read(file, rg_meta, ci, descr.clone(), first_row, &mut col);
        col.flush();
        let skipped = col.skipped_binary;
        if skipped > 0 {
            out.warnings.push(format!(
                "row group {rg}, column {path}: {skipped} binary value(s) skipped"
            ));
        }
        if let Err(e) = result {
            out.warnings.push(format!(
                "row group {rg}, column {path}: not scanned in full: {e}"
            ));
        }
    }
    out
}

/// Column `ci` of a row group: a slice of the file's shared buffer, or else a
/// copy. With a row group of hundreds of megabytes, the copy was most of the
/// memory a scan held.
fn column_chunk(
    file: FileBytes<'_>,
    rg_meta: &RowGroupMetaData,
    ci: usize,
) -> Result<ColumnChunk, String> {
    let (start, len) = rg_meta.column(ci).byte_range();
    let range = usize::try_from(start)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(s, l)| Some(s..s.checked_add(l)?))
        .filter(|r| r.end <= file.bytes.len())
        .ok_or("column chunk lies outside the file (truncated?)")?;
    Ok(ColumnChunk {
        base: start,
        data: file.slice(range),
    })
}

/// The pages of column `ci` of a row group.
fn page_reader(
    file: FileBytes<'_>,
    rg_meta: &RowGroupMetaData,
    ci: usize,
) -> Result<Box<dyn PageReader>, String> {
    let chunk = column_chunk(file, rg_meta, ci)?;
    let rows = usize::try_from(rg_meta.num_rows()).unwrap_or(0);
    let reader = SerializedPageReader::new(Arc::new(chunk), rg_meta.column(ci), rows, None)
        .map_err(|e| e.to_string())?;
    Ok(Box::new(reader))
}

/// Reads one column chunk and feeds its values, with their row, to `col`.
fn read_column<T: DataType>(
    file: FileBytes<'_>,
    rg_meta: &RowGroupMetaData,
    ci: usize,
    descr: ColumnDescPtr,
    first_row: u64,
    col: &mut ColumnScan<'_, '_>,
) -> Result<(), String>
where
    T::T: AsBytes,
{
    let max_def = descr.max_def_level();
    let max_rep = descr.max_rep_level();
    let mut reader = ColumnReaderImpl::<T>::new(descr, page_reader(file, rg_meta, ci)?);
    let mut def: Vec<i16> = Vec::new();
    let mut rep: Vec<i16> = Vec::new();
    let mut vals: Vec<T::T> = Vec::new();
    let mut next_row = first_row;
    let mut rows: Vec<u64> = Vec::new();
    loop {
        def.clear();
        rep.clear();
        vals.clear();
        let (records, values, levels) = reader
            .read_records(
                RECORDS_PER_READ,
                (max_def > 0).then_some(&mut def),
                (max_rep > 0).then_some(&mut rep),
                &mut vals,
            )
            .map_err(|e| e.to_string())?;
        if records == 0 && values == 0 && levels == 0 {
            return Ok(());
        }
        rows.clear();
        if max_def == 0 && max_rep == 0 {
            for _ in 0..vals.len() {
                rows.push(next_row);
                next_row += 1;
            }
        } else {
            let mut cur = next_row;
            for i in 0..levels.min(def.len().max(rep.len())) {
                let new_record = max_rep == 0 || rep.get(i) == Some(&0);
                if new_record {
                    cur = next_row;
                    next_row += 1;
                }
                if max_def == 0 || def.get(i) == Some(&max_def) {
                    rows.push(cur);
                }
            }
        }
        for (v, &row) in vals.iter().zip(&rows) {
            col.push(v.as_bytes(), row);
        }
    }
}

/// Values of one column gathered into a view (joined by newlines) and scanned.
struct ColumnScan<'c, 'o> {
    ctx: &'c ScanCtx<'c>,
    rg: u64,
    field: String,
    view: Vec<u8>,
    /// (start in view, row) of each value.
    values: Vec<(usize, u64)>,
    skipped_binary: u64,
    out: &'o mut FormatOutput,
}

impl ColumnScan<'_, '_> {
    fn push(&mut self, value: &[u8], row: u64) {
        if memchr::memchr(0, &value[..value.len().min(8192)]).is_some() {
            self.skipped_binary += 1;
            return;
        }
        self.values.push((self.view.len(), row));
        self.view.extend_from_slice(value);
        self.view.push(b'\n');
        if self.view.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.values.is_empty() {
            return;
        }
        let matches = self.ctx.scan(&self.view, &mut self.out.stats);
        for m in matches {
            let i = self.values.partition_point(|v| v.0 <= m.start) - 1;
            let (vstart, row) = self.values[i];
            let vend = self.values.get(i + 1).map_or(self.view.len(), |n| n.0) - 1;
            let span: Range<usize> = m.start..m.end.min(vend);
            if span.is_empty() {
                continue;
            }
            let value = &self.view[vstart..vend];
            let rel = span.start - vstart..span.end - vstart;
            let (line, column) = scan::LineCounter::new(value).locate(rel.start);
            self.out.hits.push(Hit {
                value: self.view[span.clone()].to_vec(),
                m: Match {
                    start: rel.start,
                    end: rel.end,
                    ..m
                },
                record: Some(row),
                field: Some(self.field.clone()),
                row_group: Some(self.rg),
                line_col: Some((line, column)),
            });
        }
        self.view.clear();
        self.values.clear();
    }
}

/// Writes small Parquet files for tests.
#[cfg(test)]
pub(crate) mod testutil {
    use std::sync::Arc;

    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    /// A chat record: id, optional text, messages (list of {role, content}).
    pub struct Row<'a> {
        pub id: i64,
        pub text: Option<&'a str>,
        pub messages: Vec<(&'a str, &'a str)>,
    }

    /// Writes rows into row groups of `per_group` rows, snappy-compressed.
    pub fn write(rows: &[Row<'_>], per_group: usize) -> Vec<u8> {
        let schema = Arc::new(
            parse_message_type(
                "message chat {
                    required int64 id;
                    optional binary text (UTF8);
                    optional group messages (LIST) {
                        repeated group list {
                            optional group element {
                                optional binary role (UTF8);
                                optional binary content (UTF8);
                            }
                        }
                    }
                }",
            )
            .unwrap(),
        );
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build(),
        );
        let mut w = SerializedFileWriter::new(Vec::new(), schema, props).unwrap();
        for group in rows.chunks(per_group.max(1)) {
            let mut rg = w.next_row_group().unwrap();
            let mut idx = 0;
            while let Some(mut col) = rg.next_column().unwrap() {
                match idx {
                    0 => {
                        let ids: Vec<i64> = group.iter().map(|r| r.id).collect();
                        col.typed::<Int64Type>()
                            .write_batch(&ids, None, None)
                            .unwrap();
                    }
                    1 => {
                        let vals: Vec<ByteArray> = group
                            .iter()
                            .filter_map(|r| r.text.map(|t| ByteArray::from(t.as_bytes().to_vec())))
                            .collect();
                        let defs: Vec<i16> =
                            group.iter().map(|r| i16::from(r.text.is_some())).collect();
                        col.typed::<ByteArrayType>()
                            .write_batch(&vals, Some(&defs), None)
                            .unwrap();
                    }
                    _ => {
                        // messages.list.element.{role,content}: max def 4, max rep 1
                        let mut vals = Vec::new();
                        let mut defs = Vec::new();
                        let mut reps = Vec::new();
                        for r in group {
                            if r.messages.is_empty() {
                                defs.push(1);
                                reps.push(0);
                            }
                            for (k, (role, content)) in r.messages.iter().enumerate() {
                                let v = if idx == 2 { role } else { content };
                                vals.push(ByteArray::from(v.as_bytes().to_vec()));
                                defs.push(4);
                                reps.push(if k == 0 { 0 } else { 1 });
                            }
                        }
                        col.typed::<ByteArrayType>()
                            .write_batch(&vals, Some(&defs), Some(&reps))
                            .unwrap();
                    }
                }
                col.close().unwrap();
                idx += 1;
            }
            rg.close().unwrap();
        }
        w.into_inner().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{write, Row};
    use crate::format::{FieldFilter, Format};
    use crate::rules::RuleSet;
    use crate::scan::{scan_bytes_as, ScanOptions};
    use crate::Scanner;

    fn scanner() -> Scanner {
        let mut set = RuleSet::builtin().unwrap();
        set.add_str(
            "t.toml",
            "[[rule]]\nid = \"t.token\"\nname = \"t\"\ncategory = \"credential\"\nseverity = \"high\"\nkeywords = [\"tok_\"]\nregex = '(?P<value>tok_[a-z0-9]{8})\\b'\n",
        )
        .unwrap();
        Scanner::new(&set).unwrap()
    }

    fn rows() -> Vec<Row<'static>> {
        vec![
            Row {
                id: 0,
                text: Some("nothing here"),
                messages: vec![],
            },
            Row {
                id: 1,
                text: None,
                messages: vec![("user", "hi"), ("assistant", "key tok_abcd1234")],
            },
            Row {
                id: 2,
                text: Some("mail jane.roe@corp-mail.net"),
                messages: vec![("user", "x\ny tok_efgh5678")],
            },
            Row {
                id: 3,
                text: Some("bye"),
                messages: vec![("user", "a"), ("user", "b"), ("tool", "tok_ijkl9012")],
            },
        ]
    }

    #[test]
    fn row_groups_scanned_on_several_threads_keep_their_order() {
        // 40 row groups of three rows: each group's findings leave as it is done,
        // in row group order whatever the threads.
        let many: Vec<Row<'static>> = (0..40).flat_map(|_| rows()).collect();
        let data = write(&many, 3);
        let scanner = scanner();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (out, _) = pool.install(|| {
                scan_bytes_as(
                    "t.parquet".into(),
                    &data,
                    Format::Parquet,
                    &scanner,
                    &ScanOptions::default(),
                )
            });
            out[0]
                .findings
                .iter()
                .map(|f| {
                    (
                        f.row_group,
                        f.record,
                        f.field.clone(),
                        f.start,
                        f.rule.id.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let one = run(1);
        assert_eq!(one.len(), 40 * 4);
        assert!(one.windows(2).all(|w| w[0] <= w[1]), "not in output order");
        assert_eq!(one.last().unwrap().0, Some(53));
        for threads in [2, 4] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
    }

    #[test]
    fn column_chunks_are_slices_of_shared_bytes_not_copies() {
        use super::{column_chunk, FileBytes, Whole};
        use bytes::Bytes;
        use parquet::file::metadata::ParquetMetaDataReader;
        let many: Vec<Row<'static>> = (0..10).flat_map(|_| rows()).collect();
        let owner = Bytes::from(write(&many, 7));
        let meta = ParquetMetaDataReader::new()
            .parse_and_finish(&Whole(&owner))
            .unwrap();
        let within = |b: &Bytes| {
            let (start, at) = (owner.as_ptr() as usize, b.as_ptr() as usize);
            at >= start && at + b.len() <= start + owner.len()
        };
        assert!(meta.num_row_groups() > 1);
        for rg in meta.row_groups() {
            for ci in 0..rg.num_columns() {
                let file = |shared| FileBytes {
                    bytes: &owner,
                    owner: shared,
                };
                let shared = column_chunk(file(Some(&owner)), rg, ci).unwrap();
                let copied = column_chunk(file(None), rg, ci).unwrap();
                assert_eq!(shared.data, copied.data);
                assert!(within(&shared.data));
                assert!(!within(&copied.data));
            }
        }
    }

    #[test]
    fn a_parquet_file_scanned_from_disk_equals_its_bytes_scanned() {
        // From disk the file's bytes are shared with the column readers; from a
        // slice they are copied per column chunk: same findings.
        let many: Vec<Row<'static>> = (0..20).flat_map(|_| rows()).collect();
        let data = write(&many, 5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        std::fs::write(&path, &data).unwrap();
        let scanner = scanner();
        let opts = ScanOptions {
            mmap_threshold: 1,
            ..ScanOptions::default()
        };
        let key = |o: &crate::FileOutcome| {
            o.findings
                .iter()
                .map(|f| (f.row_group, f.record, f.field.clone(), f.start, f.end))
                .collect::<Vec<_>>()
        };
        let (from_slice, _) =
            scan_bytes_as("t.parquet".into(), &data, Format::Parquet, &scanner, &opts);
        let report = crate::scan::scan_inputs(
            &[crate::source::Input::File(path.clone())],
            &scanner,
            &opts,
            &|_| {},
        );
        assert_eq!(from_slice[0].findings.len(), 20 * 4);
        assert_eq!(key(&report.files[0]), key(&from_slice[0]));
    }

    #[test]
    fn finds_values_in_nested_columns_with_row_group_row_and_path() {
        let data = write(&rows(), 3);
        let (out, _) = scan_bytes_as(
            "t.parquet".into(),
            &data,
            Format::Parquet,
            &scanner(),
            &ScanOptions::default(),
        );
        let out = &out[0];
        assert_eq!(out.status, crate::FileStatus::Scanned, "{:?}", out.status);
        let got: Vec<_> = out
            .findings
            .iter()
            .map(|f| {
                (
                    f.rule.id.as_str(),
                    f.row_group,
                    f.record,
                    f.field.clone().unwrap(),
                    String::from_utf8_lossy(&f.value).into_owned(),
                    f.start,
                    f.end,
                    f.line,
                    f.column,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "t.token",
                    Some(0),
                    Some(1),
                    "messages.list.element.content".to_string(),
                    "tok_abcd1234".to_string(),
                    4,
                    16,
                    1,
                    5
                ),
                (
                    "t.token",
                    Some(0),
                    Some(2),
                    "messages.list.element.content".to_string(),
                    "tok_efgh5678".to_string(),
                    4,
                    16,
                    2,
                    3
                ),
                (
                    "pii.email",
                    Some(0),
                    Some(2),
                    "text".to_string(),
                    "jane.roe@corp-mail.net".to_string(),
                    5,
                    27,
                    1,
                    6
                ),
                (
                    "t.token",
                    Some(1),
                    Some(3),
                    "messages.list.element.content".to_string(),
                    "tok_ijkl9012".to_string(),
                    0,
                    12,
                    1,
                    1
                ),
            ]
        );
    }

    #[test]
    fn fields_select_columns() {
        let data = write(&rows(), 2);
        let opts = ScanOptions {
            fields: FieldFilter::parse("text"),
            ..ScanOptions::default()
        };
        let (out, _) = scan_bytes_as(
            "t.parquet".into(),
            &data,
            Format::Parquet,
            &scanner(),
            &opts,
        );
        assert_eq!(out[0].findings.len(), 1);
        assert_eq!(out[0].findings[0].field.as_deref(), Some("text"));
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        let data = write(&rows(), 2);
        let s = scanner();
        let (out, _) = scan_bytes_as(
            "t.parquet".into(),
            &data[..data.len() / 2],
            Format::Parquet,
            &s,
            &ScanOptions::default(),
        );
        assert!(matches!(out[0].status, crate::FileStatus::Error(ref e) if e.contains("parquet")));
        let mut seed = 0x5555_aaaa_1234_4321u64;
        for _ in 0..300 {
            let mut buf = data.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % buf.len();
                buf[i] = (seed >> 40) as u8;
            }
            let _ = scan_bytes_as(
                "t.parquet".into(),
                &buf,
                Format::Parquet,
                &s,
                &ScanOptions::default(),
            );
        }
    }
}
