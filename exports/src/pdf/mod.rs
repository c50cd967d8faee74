//! PDF 1.4 tables: A4 landscape, the built-in Helvetica and Helvetica-Bold with
//! `/WinAnsiEncoding`, uncompressed content streams, and a reader for the same layout.
//!
//! **Layout.** The title (and subtitle) head the first page; every page repeats the
//! header row and ends with `Page n of N`. Thin rules run above the header, under it and
//! under every row; text is never truncated. Column widths come from the text widths
//! (Helvetica's AFM widths) and are scaled to the page; a cell too wide for its column
//! wraps onto further lines within its row, at spaces only. When a single word is wider
//! than its column can be, the font shrinks in half points from 8 pt down to 5 pt; if a
//! word still cannot fit, its column is widened instead and the page grows wider than A4.
//! A row taller than a page makes its page taller. Integers are right-aligned with `,`
//! between thousands (`1,234,567`). Each line of a cell is one `(…) Tj` placed with `Tm`,
//! so text can be extracted. Nothing depends on the time: the same table gives the same
//! bytes. The document information names the title, the subtitle and, under the key
//! `/ColumnKinds`, each column's kind (`text,integer,…`) for the reader.
//!
//! **Reading back** ([`read_pdf`]) follows the cross-reference table to the pages and
//! their content streams, collects the shown strings with their positions and the
//! horizontal rules, and takes the bands between rules as rows: above the first rule
//! (title, subtitle) and below the last (the footer) is left out, as is the repeated
//! header on pages 2 and on. Columns start where the header's cells start; the lines of
//! a wrapped cell are joined with a single space, which gives back the text exactly,
//! since lines break only at one of its spaces. Integer columns lose their separators.

mod metrics;
mod read;
mod write;

pub use read::read_pdf;
pub use write::pdf;
