//! Parquet on the way out: the file is rewritten with the same schema, the same
//! row groups (less dropped rows), the same column compression and key-value
//! metadata; only string values with findings change.
//!
//! Findings of Parquet carry the row (`record`), the column path (`field`) and
//! offsets inside the value; a repeated column may hold several values in one
//! row, so a finding applies to the values of its row and column whose bytes at
//! those offsets are the value found.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType, DoubleType, FixedLenByteArray,
    FixedLenByteArrayType, FloatType, Int32Type, Int64Type, Int96Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;

use super::{
    merge_hits, Applied, Hit, MergedSpan, Operator, OperatorPlan, Pass, RecordCounts, RedactError,
    Redacted, Redactor, MAX_PASSES,
};
use crate::finding::Finding;
use crate::format::Format;
use crate::scan::{self, FileStatus, ScanOptions};

/// Records read from a column at a time.
const RECORDS_PER_READ: usize = 4096;

fn perr(path: &str, e: impl std::fmt::Display) -> RedactError {
    RedactError::Parse {
        path: path.to_string(),
        message: format!("parquet: {e}"),
    }
}

/// Findings of a Parquet file (kept, at or above the minimum severity) and its row
/// count.
fn analyse(r: &Redactor, path: &str, bytes: &[u8]) -> Result<(Vec<Finding>, u64), RedactError> {
    let opts = ScanOptions {
        stats: false,
        ..r.opts.scan.clone()
    };
    let (outcomes, _) =
        scan::scan_bytes_as(Arc::from(path), bytes, Format::Parquet, &r.scanner, &opts);
    let mut findings = Vec::new();
    for o in outcomes {
        if let FileStatus::Error(message) = o.status {
            return Err(RedactError::Parse {
                path: path.to_string(),
                message,
            });
        }
        findings.extend(
            o.findings
                .into_iter()
                .filter(|f| !f.dropped && f.rule.severity >= r.opts.min_severity),
        );
    }
    let reader =
        SerializedFileReader::new(Bytes::copy_from_slice(bytes)).map_err(|e| perr(path, e))?;
    let rows = reader.metadata().file_metadata().num_rows().max(0) as u64;
    Ok((findings, rows))
}

/// Redacts (or, with [`Pass::Inspect`], only inspects) a Parquet file.
pub(super) fn redact(
    r: &Redactor,
    path: &str,
    bytes: &[u8],
    pass: Pass,
) -> Result<Redacted, RedactError> {
    let (findings, rows) = analyse(r, path, bytes)?;
    let mut done = Redacted {
        records: RecordCounts {
            input: rows,
            output: rows,
            ..RecordCounts::default()
        },
        ..Redacted::default()
    };
    if findings.is_empty() || pass == Pass::Inspect {
        done.findings = findings;
        return Ok(done);
    }
    let (mut out, dropped) = rewrite(r, path, bytes, &findings, &r.opts.plan, &mut done.applied)?;
    done.findings = findings;
    done.records.dropped = dropped;
    done.records.output = rows - dropped;
    let fallback = OperatorPlan::all(Operator::Placeholder);
    let mut passes = 1;
    loop {
        let (again, rows_out) = analyse(r, path, &out)?;
        if rows_out != done.records.output {
            let mut counts = done.records;
            counts.output = rows_out;
            return Err(RedactError::RecordMismatch {
                path: path.to_string(),
                counts,
            });
        }
        if again.is_empty() {
            break;
        }
        if passes == MAX_PASSES {
            return Err(RedactError::NotConverged {
                path: path.to_string(),
                count: again.len(),
                passes,
            });
        }
        done.rechecked += again.len() as u64;
        out = rewrite(r, path, &out, &again, &fallback, &mut Applied::new())?.0;
        passes += 1;
    }
    done.output = Some(out);
    Ok(done)
}

/// Findings by (row, column path).
type Cells<'f> = BTreeMap<(u64, String), Vec<&'f Finding>>;

/// Hits of the findings of one cell on one of its values: those whose bytes at
/// the finding's offsets are the value found.
fn hits_on(value: &[u8], found: &[&Finding]) -> Vec<Hit> {
    found
        .iter()
        .filter(|f| value.get(f.start as usize..f.end as usize) == Some(&f.value[..]))
        .map(|f| Hit {
            span: f.start as usize..f.end as usize,
            rule: f.rule.clone(),
            confidence: f.confidence,
        })
        .collect()
}

fn rewrite(
    r: &Redactor,
    path: &str,
    bytes: &[u8],
    findings: &[Finding],
    plan: &OperatorPlan,
    applied: &mut Applied,
) -> Result<(Vec<u8>, u64), RedactError> {
    let mut cells: Cells<'_> = BTreeMap::new();
    for f in findings {
        if let (Some(row), Some(field)) = (f.record, &f.field) {
            cells.entry((row, field.clone())).or_default().push(f);
        }
    }
    // Rows to drop: a cell whose merged spans have a drop-record winner.
    let mut drop_rows: BTreeSet<u64> = BTreeSet::new();
    for ((row, _), found) in &cells {
        let hits: Vec<Hit> = found
            .iter()
            .map(|f| Hit {
                span: f.start as usize..f.end as usize,
                rule: f.rule.clone(),
                confidence: f.confidence,
            })
            .collect();
        let width = hits.iter().map(|h| h.span.end).max().unwrap_or(0);
        let spans: Vec<MergedSpan> = merge_hits(hits, &vec![b' '; width]);
        let droppers: Vec<&MergedSpan> = spans
            .iter()
            .filter(|m| plan.operator_for(&m.winner) == Operator::DropRecord)
            .collect();
        if !droppers.is_empty() {
            drop_rows.insert(*row);
            for m in droppers {
                *applied
                    .entry((m.winner.id.clone(), Operator::DropRecord.name()))
                    .or_default() += 1;
            }
        }
    }

    let reader =
        SerializedFileReader::new(Bytes::copy_from_slice(bytes)).map_err(|e| perr(path, e))?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let mut props = WriterProperties::builder()
        .set_key_value_metadata(meta.file_metadata().key_value_metadata().cloned());
    if let Some(rg) = meta.row_groups().first() {
        for ci in 0..schema.num_columns() {
            let c = match rg.column(ci).compression() {
                Compression::BROTLI(_) | Compression::LZO => Compression::SNAPPY,
                c => c,
            };
            props = props.set_column_compression(schema.column(ci).path().clone(), c);
        }
    }
    let mut writer = SerializedFileWriter::new(
        Vec::new(),
        schema.root_schema_ptr(),
        Arc::new(props.build()),
    )
    .map_err(|e| perr(path, e))?;
    let mut first_row = 0u64;
    for rg in 0..meta.num_row_groups() {
        let rg_rows = meta.row_group(rg).num_rows().max(0) as u64;
        let rows = first_row..first_row + rg_rows;
        first_row += rg_rows;
        if drop_rows.range(rows.clone()).count() as u64 == rg_rows && rg_rows > 0 {
            continue; // every row of the group dropped
        }
        let group = reader.get_row_group(rg).map_err(|e| perr(path, e))?;
        let mut rg_writer = writer.next_row_group().map_err(|e| perr(path, e))?;
        let mut ci = 0;
        while let Some(mut col) = rg_writer.next_column().map_err(|e| perr(path, e))? {
            let descr = schema.column(ci);
            let field = descr.path().string();
            let column_reader = group.get_column_reader(ci).map_err(|e| perr(path, e))?;
            let levels = (descr.max_def_level(), descr.max_rep_level());
            let ctx = Copy {
                first_row: rows.start,
                drop: &drop_rows,
                levels,
            };
            let w = col.untyped();
            let res = match descr.physical_type() {
                PhysicalType::BOOLEAN => copy::<BoolType>(column_reader, w, &ctx, |_, _| {}),
                PhysicalType::INT32 => copy::<Int32Type>(column_reader, w, &ctx, |_, _| {}),
                PhysicalType::INT64 => copy::<Int64Type>(column_reader, w, &ctx, |_, _| {}),
                PhysicalType::INT96 => copy::<Int96Type>(column_reader, w, &ctx, |_, _| {}),
                PhysicalType::FLOAT => copy::<FloatType>(column_reader, w, &ctx, |_, _| {}),
                PhysicalType::DOUBLE => copy::<DoubleType>(column_reader, w, &ctx, |_, _| {}),
                PhysicalType::BYTE_ARRAY => {
                    copy::<ByteArrayType>(column_reader, w, &ctx, |row, v: &mut ByteArray| {
                        let Some(found) = cells.get(&(row, field.clone())) else {
                            return;
                        };
                        if let Some(new) = replace_value(r, v.data(), found, plan, applied) {
                            *v = ByteArray::from(new);
                        }
                    })
                }
                PhysicalType::FIXED_LEN_BYTE_ARRAY => copy::<FixedLenByteArrayType>(
                    column_reader,
                    w,
                    &ctx,
                    |row, v: &mut FixedLenByteArray| {
                        let Some(found) = cells.get(&(row, field.clone())) else {
                            return;
                        };
                        // A fixed length: only a mask fits.
                        let mask = OperatorPlan::all(Operator::Mask { keep_last: None });
                        if let Some(mut new) = replace_value(r, v.data(), found, &mask, applied) {
                            new.resize(v.data().len(), b'*');
                            *v = FixedLenByteArray::from(ByteArray::from(new));
                        }
                    },
                ),
            };
            res.map_err(|e| perr(path, e))?;
            col.close().map_err(|e| perr(path, e))?;
            ci += 1;
        }
        rg_writer.close().map_err(|e| perr(path, e))?;
    }
    let out = writer.into_inner().map_err(|e| perr(path, e))?;
    Ok((out, drop_rows.len() as u64))
}

/// The new bytes of one value, or `None` when no finding applies to it.
fn replace_value(
    r: &Redactor,
    value: &[u8],
    found: &[&Finding],
    plan: &OperatorPlan,
    applied: &mut Applied,
) -> Option<Vec<u8>> {
    let hits = hits_on(value, found);
    if hits.is_empty() {
        return None;
    }
    let spans = merge_hits(hits, value);
    let edits = r.replace_all(value, spans, plan, applied);
    Some(super::splice(value, edits, &[]))
}

/// Where a column chunk's rows start and which rows to leave out.
struct Copy<'a> {
    first_row: u64,
    drop: &'a BTreeSet<u64>,
    /// (max definition level, max repetition level).
    levels: (i16, i16),
}

/// Copies one column chunk from `reader` to `writer`, leaving out dropped rows and
/// passing each value of a kept row, with its row, to `edit`.
fn copy<T: DataType>(
    reader: ColumnReader,
    writer: &mut ColumnWriter<'_>,
    ctx: &Copy<'_>,
    mut edit: impl FnMut(u64, &mut T::T),
) -> parquet::errors::Result<()> {
    let mut reader = T::get_column_reader(reader)
        .ok_or_else(|| parquet::errors::ParquetError::General("column type mismatch".into()))?;
    let writer = T::get_column_writer_mut(writer)
        .ok_or_else(|| parquet::errors::ParquetError::General("column type mismatch".into()))?;
    let (max_def, max_rep) = ctx.levels;
    let mut def: Vec<i16> = Vec::new();
    let mut rep: Vec<i16> = Vec::new();
    let mut vals: Vec<T::T> = Vec::new();
    let mut next_row = ctx.first_row;
    loop {
        def.clear();
        rep.clear();
        vals.clear();
        let (records, values, levels) = reader.read_records(
            RECORDS_PER_READ,
            (max_def > 0).then_some(&mut def),
            (max_rep > 0).then_some(&mut rep),
            &mut vals,
        )?;
        if records == 0 && values == 0 && levels == 0 {
            return Ok(());
        }
        let (mut out_vals, mut out_def, mut out_rep) = (Vec::new(), Vec::new(), Vec::new());
        if max_def == 0 && max_rep == 0 {
            for v in vals.drain(..) {
                let row = next_row;
                next_row += 1;
                if !ctx.drop.contains(&row) {
                    let mut v = v;
                    edit(row, &mut v);
                    out_vals.push(v);
                }
            }
        } else {
            let mut vi = 0;
            let mut row = next_row;
            let n = levels.min(def.len().max(rep.len()));
            for i in 0..n {
                if max_rep == 0 || rep.get(i) == Some(&0) {
                    row = next_row;
                    next_row += 1;
                }
                let has_value = max_def == 0 || def.get(i) == Some(&max_def);
                let keep = !ctx.drop.contains(&row);
                if has_value {
                    let mut v = vals[vi].clone();
                    vi += 1;
                    if keep {
                        edit(row, &mut v);
                        out_vals.push(v);
                    }
                }
                if keep {
                    if max_def > 0 {
                        out_def.push(def[i]);
                    }
                    if max_rep > 0 {
                        out_rep.push(rep[i]);
                    }
                }
            }
        }
        writer.write_batch(
            &out_vals,
            (max_def > 0).then_some(&out_def[..]),
            (max_rep > 0).then_some(&out_rep[..]),
        )?;
    }
}
