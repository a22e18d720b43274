//! CSV output (RFC 4180: comma-separated, CRLF line ends, fields quoted when needed) that is safe
//! to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return is
//! prefixed with `'`, so it is shown as text instead of being run as a formula (OWASP "CSV
//! injection").

/// Characters that make a spreadsheet treat a cell as a formula.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// Appends one record of `cells` and its line end to `out`.
pub fn write_record<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_cell(out, cell);
    }
    out.push_str("\r\n");
}

fn write_cell(out: &mut String, cell: &str) {
    let guarded = cell.starts_with(FORMULA_STARTS);
    let quoted = guarded || cell.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if guarded {
        out.push('\'');
    }
    for character in cell.chars() {
        if character == '"' {
            out.push('"');
        }
        out.push(character);
    }
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> String {
        let mut out = String::new();
        write_record(&mut out, cells.iter().copied());
        out
    }

    #[test]
    fn plain_cells_stay_plain() {
        assert_eq!(
            record(&["2026-000001", "Drucker", ""]),
            "2026-000001,Drucker,\r\n"
        );
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        assert_eq!(
            record(&["a,b", "say \"hi\"", "line\nbreak"]),
            "\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\"\r\n"
        );
    }

    #[test]
    fn formulas_become_text() {
        assert_eq!(
            record(&["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "a=b"]),
            "\"'=HYPERLINK(\"\"x\"\")\",\"'+1\",\"'-2\",\"'@SUM(A1)\",a=b\r\n"
        );
    }
}
