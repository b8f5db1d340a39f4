//! What a command prints: aligned tables and field lists for people, JSON in
//! the shape of `aws iam`'s output (or the admin API's own JSON) for scripts,
//! or an answer passed on byte for byte (the audit log's CSV).
//!
//! Owns: turning result elements into JSON (lists as arrays, IAM's booleans
//! and counts as JSON booleans and numbers, URL-encoded policy documents as
//! the JSON they encode) and into text, the cells of admin API values (sizes
//! in binary units beside their exact bytes, `unlimited` for absent limits),
//! and writing to stdout.

use std::io::Write;

use serde_json::{Map, Value};

use super::xml::Element;

/// Fields whose value is a policy document, URL-encoded as RFC 3986 says
/// (AWS's GetPolicyVersion, Get*Policy and role documentation).
const DOCUMENT_FIELDS: [&str; 3] = ["Document", "PolicyDocument", "AssumeRolePolicyDocument"];
/// Fields IAM types as booleans.
const BOOLEAN_FIELDS: [&str; 3] = ["IsDefaultVersion", "IsAttachable", "IsTruncated"];
/// Fields IAM types as integers.
const INTEGER_FIELDS: [&str; 3] = [
    "MaxSessionDuration",
    "AttachmentCount",
    "PermissionsBoundaryUsageCount",
];
/// Fields IAM types as lists: an empty one must still read as `[]`.
const LIST_FIELDS: [&str; 10] = [
    "Users",
    "Groups",
    "Roles",
    "Policies",
    "PolicyNames",
    "AttachedPolicies",
    "AccessKeyMetadata",
    "Versions",
    "Tags",
    "InstanceProfileList",
];

/// What a command produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The action succeeded and has nothing to show (deletes, attaches, updates).
    Nothing,
    /// Something to show, prepared both ways.
    Shown { json: Value, text: String },
    /// The server's answer exactly as it came, whatever `--json` says.
    Raw(Vec<u8>),
}

impl Output {
    /// Writes the chosen form to stdout. A closed pipe (`| head`) is not an error.
    pub fn print(&self, as_json: bool) {
        let mut stdout = std::io::stdout().lock();
        let _ = self.write_to(&mut stdout, as_json);
        let _ = stdout.flush();
    }

    /// Text ends in one line break; raw answers are written untouched.
    fn write_to(&self, out: &mut impl Write, as_json: bool) -> std::io::Result<()> {
        match self {
            Output::Nothing => Ok(()),
            Output::Shown { json, text } => {
                let rendered = if as_json {
                    serde_json::to_string_pretty(json).unwrap_or_default()
                } else {
                    text.trim_end().to_owned()
                };
                writeln!(out, "{rendered}")
            }
            Output::Raw(bytes) => out.write_all(bytes),
        }
    }
}

/// Binary units for sizes, as `ls -h` and `du -h` count.
const SIZE_UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// A size for people: `512 B`, `1.5 KiB`, `10 GiB` (one decimal at most).
pub fn human_bytes(bytes: u64) -> String {
    let mut unit = 0;
    // Precision is lost above 2^53 bytes, far below what one decimal shows.
    let mut value = bytes as f64;
    while value >= 1024.0 && unit + 1 < SIZE_UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let mut text = format!("{value:.1}");
    // 1023.96 KiB rounds to 1024.0: that is the next unit's 1.
    if text == "1024.0" && unit + 1 < SIZE_UNITS.len() {
        unit += 1;
        text = "1.0".to_owned();
    }
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", SIZE_UNITS[unit])
}

/// A size with its exact bytes beside it when the unit rounds:
/// `1.5 KiB (1536)`, but `512 B`.
pub fn bytes_text(bytes: u64) -> String {
    if bytes < 1024 {
        human_bytes(bytes)
    } else {
        format!("{} ({bytes})", human_bytes(bytes))
    }
}

/// A JSON value as a table cell: strings bare, `null` or absent empty,
/// anything else compact JSON; line breaks become spaces so a row stays one
/// line.
pub fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    if text.contains(['\n', '\r']) {
        text.replace("\r\n", " ").replace(['\n', '\r'], " ")
    } else {
        text
    }
}

/// An amount in use: sizes through `bytes_text`, counts as they are.
pub fn amount_text(value: Option<&Value>, is_size: bool) -> String {
    match value.and_then(Value::as_u64) {
        Some(bytes) if is_size => bytes_text(bytes),
        _ => cell(value),
    }
}

/// A size in a table with many columns: the unit only (`1.2 GiB`); `--json`
/// has the bytes.
pub fn size_cell(value: Option<&Value>) -> String {
    match value.and_then(Value::as_u64) {
        Some(bytes) => human_bytes(bytes),
        None => cell(value),
    }
}

/// A quota or bandwidth limit: `null` or absent is `unlimited`.
pub fn limit_text(value: Option<&Value>, is_size: bool) -> String {
    match value {
        None | Some(Value::Null) => "unlimited".to_owned(),
        Some(_) => amount_text(value, is_size),
    }
}

/// The array under `field` of an admin API answer (`{"tenants": [...]}`);
/// empty when the answer has none.
pub fn json_list<'a>(answer: &'a Value, field: &str) -> &'a [Value] {
    answer
        .get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A table of JSON objects: one row per object, one column per
/// (header, field) pair.
pub fn json_table(items: &[Value], columns: &[(&str, &str)]) -> String {
    let headers: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
    let mut table = Table::new(&headers);
    for item in items {
        table.push(
            columns
                .iter()
                .map(|(_, field)| cell(item.get(*field)))
                .collect(),
        );
    }
    table.render()
}

/// A JSON object's fields, one per line, as (name shown, field) pairs say.
pub fn json_fields(item: &Value, fields: &[(&str, &str)]) -> String {
    let shown: Vec<(&str, String)> = fields
        .iter()
        .map(|(name, field)| (*name, cell(item.get(*field))))
        .collect();
    fields_text(&shown)
}

/// `name  value` lines, values aligned.
pub fn fields_text(fields: &[(&str, String)]) -> String {
    let mut table = Table::headless();
    for (name, value) in fields {
        table.push(vec![(*name).to_owned(), value.clone()]);
    }
    table.render()
}

/// Rows of strings under a header, printed with every column padded to its
/// widest cell.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: Some(header.iter().map(|cell| (*cell).to_owned()).collect()),
            rows: Vec::new(),
        }
    }

    /// A table without a header row (a field list: name, value).
    pub fn headless() -> Self {
        Table::default()
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Columns two spaces apart; the last column is not padded, so no line
    /// ends in spaces.
    pub fn render(&self) -> String {
        let lines: Vec<&Vec<String>> = self.header.iter().chain(self.rows.iter()).collect();
        let columns = lines.iter().map(|line| line.len()).max().unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in &lines {
            for (width, cell) in widths.iter_mut().zip(line.iter()) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in lines {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                if i + 1 < line.len() {
                    let pad = widths[i] - cell.chars().count();
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A policy document as sent back by IAM: URL-encoded, or (from servers that
/// skip the encoding) the JSON itself.
pub fn decode_document(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The JSON value of a document field: the parsed policy, or the decoded
/// text if it is not JSON.
fn document_json(text: &str) -> Value {
    let decoded = decode_document(text);
    serde_json::from_str(&decoded).unwrap_or(Value::String(decoded))
}

/// An element as `aws iam` prints it: an object of its fields, `<member>`
/// lists as arrays, leaves as strings (or booleans, numbers, documents).
pub fn element_json(element: &Element) -> Value {
    let is_list = LIST_FIELDS.contains(&element.name.as_str())
        || (!element.is_leaf() && element.children.iter().all(|c| c.name == "member"));
    if is_list {
        return Value::Array(element.members().map(element_json).collect());
    }
    if !element.is_leaf() {
        let mut fields = Map::new();
        for child in &element.children {
            fields.insert(child.name.clone(), element_json(child));
        }
        return Value::Object(fields);
    }
    leaf_json(&element.name, &element.text)
}

fn leaf_json(name: &str, text: &str) -> Value {
    if DOCUMENT_FIELDS.contains(&name) {
        return document_json(text);
    }
    if BOOLEAN_FIELDS.contains(&name) {
        match text {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    if INTEGER_FIELDS.contains(&name) {
        if let Ok(number) = text.parse::<i64>() {
            return Value::from(number);
        }
    }
    Value::String(text.to_owned())
}

/// The fields of a result element as JSON, without the paging fields (the
/// command already followed them).
pub fn result_json(result: &Element) -> Value {
    let mut fields = Map::new();
    for child in &result.children {
        if !matches!(child.name.as_str(), "IsTruncated" | "Marker") {
            fields.insert(child.name.clone(), element_json(child));
        }
    }
    Value::Object(fields)
}

/// An element's fields, one per line (`Name  value`); nested ones as
/// `Parent.Child`, lists of names joined by commas. Policy documents follow,
/// decoded and indented.
pub fn record_text(element: &Element) -> String {
    let mut table = Table::headless();
    let mut documents = Vec::new();
    collect_fields(element, "", &mut table, &mut documents);
    let mut out = table.render();
    for (name, text) in documents {
        let decoded = decode_document(&text);
        let pretty = serde_json::from_str::<Value>(&decoded)
            .ok()
            .and_then(|value| serde_json::to_string_pretty(&value).ok())
            .unwrap_or(decoded);
        out.push_str(&format!("{name}:\n{pretty}\n"));
    }
    out
}

fn collect_fields(
    element: &Element,
    prefix: &str,
    table: &mut Table,
    documents: &mut Vec<(String, String)>,
) {
    for child in &element.children {
        let name = format!("{prefix}{}", child.name);
        if DOCUMENT_FIELDS.contains(&child.name.as_str()) {
            documents.push((name, child.text.clone()));
        } else if child.is_leaf() && !LIST_FIELDS.contains(&child.name.as_str()) {
            table.push(vec![name, child.text.clone()]);
        } else if child.is_leaf() {
            // An empty list.
            table.push(vec![name, String::new()]);
        } else if child
            .children
            .iter()
            .all(|c| c.name == "member" && c.is_leaf())
        {
            let names: Vec<&str> = child.members().map(|m| m.text.as_str()).collect();
            table.push(vec![name, names.join(", ")]);
        } else if child.children.iter().all(|c| c.name == "member") {
            for (i, member) in child.members().enumerate() {
                collect_fields(member, &format!("{name}[{i}]."), table, documents);
            }
        } else {
            collect_fields(child, &format!("{name}."), table, documents);
        }
    }
}

/// A list as a table: one row per member, one column per field name
/// (`Parent.Child` reaches into a nested element).
pub fn list_table(members: &[Element], columns: &[&str]) -> String {
    let mut table = Table::new(columns);
    for member in members {
        table.push(
            columns
                .iter()
                .map(|column| field_text(member, column).to_owned())
                .collect(),
        );
    }
    table.render()
}

fn field_text<'a>(element: &'a Element, path: &str) -> &'a str {
    let mut current = element;
    for name in path.split('.') {
        match current.child(name) {
            Some(child) => current = child,
            None => return "",
        }
    }
    &current.text
}

/// A list result: `{"<list_name>": [...]}` and a table of `columns`.
pub fn list_output(list_name: &str, members: &[Element], columns: &[&str]) -> Output {
    Output::Shown {
        json: Value::Object(Map::from_iter([(
            list_name.to_owned(),
            Value::Array(members.iter().map(element_json).collect()),
        )])),
        text: list_table(members, columns),
    }
}

/// A list of plain names (`PolicyNames`): `{"PolicyNames": [...]}` and one
/// name per line under `header`.
pub fn names_output(list_name: &str, members: &[Element], header: &str) -> Output {
    let mut table = Table::new(&[header]);
    for member in members {
        table.push(vec![member.text.clone()]);
    }
    Output::Shown {
        json: Value::Object(Map::from_iter([(
            list_name.to_owned(),
            Value::Array(
                members
                    .iter()
                    .map(|m| Value::String(m.text.clone()))
                    .collect(),
            ),
        )])),
        text: table.render(),
    }
}

/// One element of a result (`<User>` of GetUser) under its own name.
pub fn record_output(result: &Element, field: &str) -> Output {
    let empty = Element::empty(field);
    let element = result.child(field).unwrap_or(&empty);
    Output::Shown {
        json: Value::Object(Map::from_iter([(field.to_owned(), element_json(element))])),
        text: record_text(element),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_cli::xml;

    #[test]
    fn raw_answers_pass_through_untouched() {
        let csv = b"id,time,actor\r\n1,2026-12-06T17:00:00Z,\"acme/a,b\"\r\n".to_vec();
        for as_json in [false, true] {
            let mut out = Vec::new();
            Output::Raw(csv.clone())
                .write_to(&mut out, as_json)
                .expect("writes");
            assert_eq!(out, csv);
        }
        let mut out = Vec::new();
        let shown = Output::Shown {
            json: serde_json::json!({"a": 1}),
            text: "x  y\n\n".into(),
        };
        shown.write_to(&mut out, false).expect("writes");
        shown.write_to(&mut out, true).expect("writes");
        assert_eq!(out, b"x  y\n{\n  \"a\": 1\n}\n");
    }

    #[test]
    fn sizes_read_in_binary_units_with_exact_bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1_048_575), "1 MiB");
        assert_eq!(human_bytes(10 << 30), "10 GiB");
        assert_eq!(human_bytes(u64::MAX), "16 EiB");
        assert_eq!(bytes_text(512), "512 B");
        assert_eq!(bytes_text(1_288_490_189), "1.2 GiB (1288490189)");
    }

    #[test]
    fn admin_api_values_become_cells() {
        let v = serde_json::json!({"n": 5, "s": "a\r\nb\nc", "o": {"k": 1}, "z": null, "b": 2048});
        assert_eq!(cell(v.get("s")), "a b c");
        assert_eq!(cell(v.get("o")), r#"{"k":1}"#);
        assert_eq!(cell(v.get("z")), "");
        assert_eq!(cell(v.get("missing")), "");
        assert_eq!(amount_text(v.get("n"), false), "5");
        assert_eq!(amount_text(v.get("b"), true), "2 KiB (2048)");
        assert_eq!(limit_text(v.get("z"), true), "unlimited");
        assert_eq!(limit_text(v.get("missing"), false), "unlimited");
        assert_eq!(limit_text(v.get("n"), false), "5");
        assert_eq!(
            fields_text(&[("Name", "acme".into()), ("DisplayName", "Acme".into())]),
            "Name         acme\nDisplayName  Acme\n"
        );
        let answer = serde_json::json!({"keys": [
            {"access_key_id": "AK1", "status": "Active", "has_password": true},
            {"access_key_id": "AK22", "status": "Inactive"},
        ]});
        let keys = json_list(&answer, "keys");
        assert_eq!(json_list(&answer, "users"), &[] as &[Value]);
        assert_eq!(
            json_table(
                keys,
                &[("AccessKeyId", "access_key_id"), ("Status", "status")]
            ),
            "AccessKeyId  Status\nAK1          Active\nAK22         Inactive\n"
        );
        assert_eq!(
            json_fields(
                &keys[0],
                &[("Id", "access_key_id"), ("HasPassword", "has_password")]
            ),
            "Id           AK1\nHasPassword  true\n"
        );
    }

    #[test]
    fn table_columns_align_and_lines_do_not_end_in_spaces() {
        let mut table = Table::new(&["UserName", "Arn", "CreateDate"]);
        table.push(vec![
            "alice".into(),
            "arn:aws:iam::000000000000:user/alice".into(),
            "2026-01-02T03:04:05Z".into(),
        ]);
        table.push(vec!["bö".into(), "arn:x".into(), String::new()]);
        assert_eq!(
            table.render(),
            "UserName  Arn                                   CreateDate\n\
             alice     arn:aws:iam::000000000000:user/alice  2026-01-02T03:04:05Z\n\
             bö        arn:x\n"
        );
        assert_eq!(Table::new(&["PolicyName"]).render(), "PolicyName\n");
    }

    fn parse(text: &str) -> Element {
        xml::parse(text.as_bytes()).expect("parses")
    }

    #[test]
    fn json_has_aws_cli_shapes() {
        let result = parse(
            "<GetRoleResult><Role><RoleName>r</RoleName><MaxSessionDuration>3600\
             </MaxSessionDuration><AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22\
             %7D</AssumeRolePolicyDocument><Tags/><RoleLastUsed><Region>us-east-1</Region>\
             </RoleLastUsed></Role></GetRoleResult>",
        );
        assert_eq!(
            result_json(&result),
            serde_json::json!({"Role": {
                "RoleName": "r",
                "MaxSessionDuration": 3600,
                "AssumeRolePolicyDocument": {"Version": "2012-10-17"},
                "Tags": [],
                "RoleLastUsed": {"Region": "us-east-1"},
            }})
        );
        let list = parse(
            "<R><Versions><member><VersionId>v1</VersionId><IsDefaultVersion>true\
             </IsDefaultVersion></member></Versions><IsTruncated>false</IsTruncated></R>",
        );
        assert_eq!(
            result_json(&list),
            serde_json::json!({"Versions": [{"VersionId": "v1", "IsDefaultVersion": true}]})
        );
    }

    #[test]
    fn records_flatten_nested_fields_and_decode_documents() {
        let user = parse(
            "<User><UserName>alice</UserName><PermissionsBoundary><PermissionsBoundaryArn>\
             arn:b</PermissionsBoundaryArn></PermissionsBoundary><Tags><member><Key>team</Key>\
             <Value>ops</Value></member></Tags></User>",
        );
        assert_eq!(
            record_text(&user),
            "UserName                                    alice\n\
             PermissionsBoundary.PermissionsBoundaryArn  arn:b\n\
             Tags[0].Key                                 team\n\
             Tags[0].Value                               ops\n"
        );
        let policy = parse(
            "<R><PolicyName>p</PolicyName><PolicyDocument>%7B%22a%22%3A%5B1%5D%7D\
             </PolicyDocument></R>",
        );
        assert_eq!(
            record_text(&policy),
            "PolicyName  p\nPolicyDocument:\n{\n  \"a\": [\n    1\n  ]\n}\n"
        );
    }

    #[test]
    fn documents_decode_whether_encoded_or_not() {
        assert_eq!(
            decode_document("%7B%22Effect%22%3A%22Allow%22%7D"),
            "{\"Effect\":\"Allow\"}"
        );
        assert_eq!(decode_document("{\"a\":\"100%\"}"), "{\"a\":\"100%\"}");
    }

    #[test]
    fn list_and_names_outputs() {
        let result = parse(
            "<R><AttachedPolicies><member><PolicyName>p1</PolicyName><PolicyArn>arn:p1\
             </PolicyArn></member></AttachedPolicies></R>",
        );
        let members: Vec<Element> = result
            .child("AttachedPolicies")
            .expect("list")
            .members()
            .cloned()
            .collect();
        assert_eq!(
            list_output("AttachedPolicies", &members, &["PolicyName", "PolicyArn"]),
            Output::Shown {
                json: serde_json::json!({"AttachedPolicies": [
                    {"PolicyName": "p1", "PolicyArn": "arn:p1"}
                ]}),
                text: "PolicyName  PolicyArn\np1          arn:p1\n".into(),
            }
        );
        let names = parse("<PolicyNames><member>a</member><member>b</member></PolicyNames>");
        let members: Vec<Element> = names.members().cloned().collect();
        assert_eq!(
            names_output("PolicyNames", &members, "PolicyName"),
            Output::Shown {
                json: serde_json::json!({"PolicyNames": ["a", "b"]}),
                text: "PolicyName\na\nb\n".into(),
            }
        );
    }
}
