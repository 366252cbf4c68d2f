//! The `kubectl get hrw -A -w` style table: a header, then one row per change of a watch, with
//! the CRD's printer columns; optional ANSI colours on a terminal.

use jiff::Timestamp;
use serde_json::Value;

use super::columns::{display_value, raw_value, PrinterColumn};

/// ANSI styling, or none at all (`--no-color`, `NO_COLOR`, or stdout not a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color && !code.is_empty() && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn cyan(self, text: &str) -> String {
        self.paint("36;1", text)
    }
}

/// One watch as the table saw it: the raw column values (dates as timestamps), so two rows can
/// be compared without the ever-changing ages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRow {
    pub namespace: String,
    pub name: String,
    /// One entry per printer column, `None` where the path found nothing.
    pub values: Vec<Option<String>>,
}

impl ObservedRow {
    /// Reads the row from an object as the API server returned it.
    pub fn from_object(object: &Value, columns: &[PrinterColumn]) -> Self {
        let text = |field: &str| {
            object
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Self {
            namespace: text("namespace"),
            name: text("name"),
            values: columns
                .iter()
                .map(|c| raw_value(c, object).unwrap_or_else(|e| Some(format!("<{e}>"))))
                .collect(),
        }
    }

    /// The value of the column named `name` (as declared in the CRD, e.g. `Ready`).
    pub fn value<'a>(&'a self, columns: &[PrinterColumn], name: &str) -> Option<&'a str> {
        columns
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| self.values.get(i))
            .and_then(|v| v.as_deref())
    }
}

/// How the table spends its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `kubectl get hrw -A -w`: NAMESPACE and NAME, the CRD's headers, three spaces apart.
    Wide,
    /// For terminals under about 100 columns: no NAMESPACE (the banner names the one namespace),
    /// short headers, two spaces apart; a row fits in 80 columns with its time stamp.
    Compact,
}

/// Column widths fixed up front (kubectl sizes its columns from the first batch of rows; a
/// watch table that changed widths mid-stream would not line up at all).
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<PrinterColumn>,
    widths: Vec<usize>,
    style: Style,
    layout: Layout,
}

const NAMESPACE: &str = "NAMESPACE";
const NAME: &str = "NAME";
/// The printer column saying where a watch's hosts come from (`hostIds`, `nodes: <selector>`).
const SOURCE: &str = "Source";

impl Table {
    /// `names` are the `(namespace, name)` pairs expected, to size the first two columns.
    pub fn new(
        columns: Vec<PrinterColumn>,
        names: &[(String, String)],
        style: Style,
        layout: Layout,
    ) -> Self {
        let ns_width = names
            .iter()
            .map(|(ns, _)| ns.len())
            .chain([NAMESPACE.len()])
            .max()
            .unwrap_or(0);
        let name_width = names
            .iter()
            .map(|(_, n)| n.len())
            .chain([NAME.len()])
            .max()
            .unwrap_or(0);
        // The compact layout has no room for where the hosts come from (`-o yaml` shows it).
        let columns: Vec<PrinterColumn> = columns
            .into_iter()
            .filter(|c| layout == Layout::Wide || c.name != SOURCE)
            .collect();
        let mut widths = match layout {
            Layout::Wide => vec![ns_width, name_width],
            Layout::Compact => vec![name_width],
        };
        widths.extend(columns.iter().map(|c| {
            let content = match (c.name.as_str(), c.type_.as_str()) {
                ("Ready", _) => "Unknown".len(),
                (SOURCE, _) => "hostIds".len(),
                (_, "date") => "10m30s".len(),
                (_, "integer") => 4,
                _ => 8,
            };
            header(c, layout).len().max(content)
        }));
        Self {
            columns,
            widths,
            style,
            layout,
        }
    }

    /// The widest layout whose rows (after `prefix` columns of time stamp) fit in `width`.
    pub fn fitting(
        columns: Vec<PrinterColumn>,
        names: &[(String, String)],
        style: Style,
        width: usize,
        prefix: usize,
    ) -> Self {
        let wide = Self::new(columns.clone(), names, style, Layout::Wide);
        if prefix + wide.row_width() <= width {
            wide
        } else {
            Self::new(columns, names, style, Layout::Compact)
        }
    }

    /// The visible width of every row (the last column at its fixed width).
    pub fn row_width(&self) -> usize {
        let gaps = self.widths.len().saturating_sub(1) * self.gap();
        self.widths.iter().sum::<usize>() + gaps
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn columns(&self) -> &[PrinterColumn] {
        &self.columns
    }

    fn gap(&self) -> usize {
        match self.layout {
            Layout::Wide => 3,
            Layout::Compact => 2,
        }
    }

    pub fn header(&self) -> String {
        let mut cells = match self.layout {
            Layout::Wide => vec![NAMESPACE.to_string(), NAME.to_string()],
            Layout::Compact => vec![NAME.to_string()],
        };
        cells.extend(self.columns.iter().map(|c| header(c, self.layout)));
        let plain = self.join(cells.iter().map(|c| (c.clone(), c.len())).collect());
        self.style.bold(&plain)
    }

    /// The row as printed at `now`; cells that differ from `previous` are bold.
    pub fn row(&self, row: &ObservedRow, previous: Option<&ObservedRow>, now: Timestamp) -> String {
        let mut cells = Vec::new();
        if self.layout == Layout::Wide {
            cells.push((row.namespace.clone(), row.namespace.len()));
        }
        cells.push((self.style.bold(&row.name), row.name.len()));
        for (i, column) in self.columns.iter().enumerate() {
            let raw = row.values.get(i).cloned().flatten();
            let mut text = display_value(column, raw.as_deref(), now);
            if column.name == SOURCE {
                // `nodes: <selector>` as `nodes`: the column keeps its width; the selector is
                // in status.source.
                text = text.split(':').next().unwrap_or_default().to_string();
            }
            let changed = previous
                .map(|p| p.values.get(i).cloned().flatten() != raw)
                .unwrap_or(false)
                && column.type_ != "date";
            let styled = self.paint_cell(column, &text, changed);
            cells.push((styled, text.chars().count()));
        }
        self.join(cells)
    }

    fn paint_cell(&self, column: &PrinterColumn, text: &str, changed: bool) -> String {
        let style = self.style;
        let base = match (column.name.as_str(), text) {
            ("Ready", "True") => style.green(text),
            ("Ready", "False") => style.red(text),
            ("Ready", _) => style.yellow(text),
            ("At Risk" | "Unprotected" | "Offline", n) if n.parse::<i64>().is_ok_and(|n| n > 0) => {
                style.yellow(text)
            }
            _ => text.to_string(),
        };
        if changed {
            style.bold(&base)
        } else {
            base
        }
    }

    /// Pads each `(styled text, visible width)` to its column; three spaces between columns
    /// like kubectl (two in the compact layout).
    fn join(&self, cells: Vec<(String, usize)>) -> String {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (text, visible)) in cells.into_iter().enumerate() {
            line.push_str(&text);
            if i < last {
                let width = self.widths.get(i).copied().unwrap_or(visible);
                line.push_str(&" ".repeat(width.saturating_sub(visible) + self.gap()));
            }
        }
        line
    }
}

/// The header of a printer column: kubectl's in the wide layout, a short one in the compact.
fn header(column: &PrinterColumn, layout: Layout) -> String {
    let short = match column.name.as_str() {
        "At Risk" => "RISK",
        "Unprotected" => "UNPROT",
        "Last Sync" => "SYNC",
        _ => "",
    };
    match layout {
        Layout::Compact if !short.is_empty() => short.to_string(),
        _ => column.header(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns() -> Vec<PrinterColumn> {
        let col = |name: &str, type_: &str, path: &str| PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            json_path: path.into(),
            priority: 0,
        };
        vec![
            col(
                "Ready",
                "string",
                r#".status.conditions[?(@.type=="Ready")].status"#,
            ),
            col("At Risk", "integer", ".status.summary.detectRisk"),
            col("Age", "date", ".metadata.creationTimestamp"),
        ]
    }

    fn object(ready: &str, risk: i64) -> Value {
        json!({
            "metadata": {"namespace": "security", "name": "web-tier",
                         "creationTimestamp": "2026-01-01T11:59:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": ready}],
                       "summary": {"detectRisk": risk}},
        })
    }

    #[test]
    fn rows_line_up_under_the_header() {
        let names = vec![("security".to_string(), "web-tier".to_string())];
        let table = Table::new(columns(), &names, Style { color: false }, Layout::Wide);
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let row = ObservedRow::from_object(&object("True", 2), table.columns());
        let header = table.header();
        let line = table.row(&row, None, now);
        assert!(header.starts_with("NAMESPACE   NAME       READY     AT-RISK   AGE"));
        assert_eq!(line, "security    web-tier   True      2         60s");
        assert_eq!(header.find("AGE"), line.find("60s"));
        assert_eq!(row.value(table.columns(), "Ready"), Some("True"));
    }

    #[test]
    fn the_source_column_says_hostids_or_nodes_and_the_compact_layout_leaves_it_out() {
        let mut with_source = columns();
        with_source.insert(
            1,
            PrinterColumn {
                name: "Source".into(),
                type_: "string".into(),
                json_path: ".status.source".into(),
                priority: 0,
            },
        );
        let names = [("security".to_string(), "workers".to_string())];
        let style = Style { color: false };
        let wide = Table::new(with_source.clone(), &names, style, Layout::Wide);
        let mut object = object("True", 0);
        object["status"]["source"] = json!("nodes: !node-role.kubernetes.io/control-plane");
        let row = ObservedRow::from_object(&object, wide.columns());
        let now = Timestamp::from_second(1_700_000_060).expect("now");
        let line = wide.row(&row, None, now);
        assert!(line.contains("True      nodes     "), "{line:?}");
        assert!(wide.header().contains("READY     SOURCE    "));
        let compact = Table::new(with_source, &names, style, Layout::Compact);
        assert!(!compact.header().contains("SOURCE"));
        assert!(compact.columns().iter().all(|c| c.name != "Source"));
    }

    #[test]
    fn the_compact_layout_drops_the_namespace_and_shortens_headers() {
        let names = vec![("security".to_string(), "web-tier".to_string())];
        let style = Style { color: false };
        let wide = Table::new(columns(), &names, style, Layout::Wide);
        let table = Table::fitting(columns(), &names, style, wide.row_width() + 6, 7);
        assert_eq!(table.layout(), Layout::Compact, "one column short");
        let table = Table::fitting(columns(), &names, style, wide.row_width() + 7, 7);
        assert_eq!(table.layout(), Layout::Wide);
        let compact = Table::new(columns(), &names, style, Layout::Compact);
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let row = ObservedRow::from_object(&object("True", 2), compact.columns());
        assert_eq!(compact.header(), "NAME      READY    RISK  AGE");
        assert_eq!(compact.row(&row, None, now), "web-tier  True     2     60s");
        assert!(compact.row_width() < wide.row_width());
    }

    #[test]
    fn colour_marks_state_and_changes_only_when_enabled() {
        let names = vec![("security".to_string(), "web-tier".to_string())];
        let now = Timestamp::now();
        let plain = Table::new(columns(), &names, Style { color: false }, Layout::Wide);
        let before = ObservedRow::from_object(&object("True", 0), plain.columns());
        let after = ObservedRow::from_object(&object("False", 1), plain.columns());
        assert!(!plain.row(&after, Some(&before), now).contains('\x1b'));
        let coloured = Table::new(columns(), &names, Style { color: true }, Layout::Wide);
        let line = coloured.row(&after, Some(&before), now);
        assert!(line.contains("\x1b[1m\x1b[31mFalse"), "{line:?}");
        assert!(line.contains("\x1b[33m1"), "{line:?}");
    }
}
