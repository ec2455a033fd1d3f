//! The original reads its YAML with PyYAML (YAML 1.1): every value stemzip
//! reads must mean what it means there, and every profile stemzip saves must
//! mean the same to both. Checked against PyYAML itself, not a list.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_yaml::Value;
use stemzip::Profile;

use crate::helpers::*;

/// Scalars as a user may write them, plain unless quoted here.
const CASES: &[&str] = &[
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "y",
    "n",
    "Y",
    "N",
    "yEs",
    "3_600",
    "3600",
    "1_000_000",
    "010",
    "0_1",
    "08",
    "0o17",
    "0x1F",
    "0x_1F",
    "0b101",
    "0b2",
    "1:30",
    "1:30.5",
    "-1:30",
    "190:20:30",
    "1:60",
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "",
    "1e3",
    "1.0e3",
    "1.0e+3",
    "1.e-2",
    "1.5",
    ".5",
    "1.",
    "-.inf",
    ".inf",
    "+.INF",
    ".NaN",
    ".nan",
    "+12",
    "-0",
    "0",
    "00",
    "09",
    "3600.0",
    "12_34.5_6",
    "1__0",
    "_1",
    "1_",
    "+",
    "-",
    ".",
    "0.",
    "'yes'",
    "\"3_600\"",
    "'010'",
    "\"off\"",
    "!!str yes",
    "!!str 3_600",
    "auto",
    "invalid",
    "csv",
    "caseA_1",
    "1_a",
    "D:\\runs\\zip",
    "..\\output\\csv",
    "03c_100yr",
    "日本_run",
];

/// A Python that can `import yaml`: `python3` first, then Debian's.
fn python_with_yaml() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Loads each document with PyYAML's safe loader and walks its path (keys
/// and list indices); for each, the value found as `type:json` (or
/// `error:…`).
fn pyyaml(documents: &[(String, serde_json::Value)]) -> Option<Vec<String>> {
    let Some(py) = python_with_yaml() else {
        if std::env::var_os("STEMZIP_REQUIRE_READERS").is_some() {
            panic!("no python3 with PyYAML (python3-yaml); CI must install it");
        }
        eprintln!("SKIPPED: no python3 with PyYAML here; the parity check did not run");
        return None;
    };
    let script = r#"
import json, math, sys, yaml
out = []
for doc, path in json.load(sys.stdin):
    try:
        v = yaml.safe_load(doc)
        for step in path:
            v = v[step]
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            out.append("float:" + repr(v))
        elif isinstance(v, (bool, int, float, str)) or v is None:
            out.append(type(v).__name__ + ":" + json.dumps(v, ensure_ascii=False))
        else:
            out.append("other:" + repr(v))
    except Exception as e:
        out.append("error:" + str(e).replace("\n", " "))
print(json.dumps(out))
"#;
    let mut child = Command::new(py)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(documents).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The `type:json` PyYAML's side prints, for a value stemzip read.
fn python_form(value: &Value) -> String {
    match value {
        Value::Null => "NoneType:null".to_owned(),
        Value::Bool(b) => format!("bool:{b}"),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap();
            if f.is_nan() {
                "float:nan".to_owned()
            } else if f.is_infinite() {
                format!("float:{}inf", if f < 0.0 { "-" } else { "" })
            } else {
                format!("float:{f:?}")
            }
        }
        Value::Number(n) => format!("int:{n}"),
        Value::String(s) => format!("str:{}", serde_json::to_string(s).unwrap()),
        other => format!("other:{other:?}"),
    }
}

/// Compares PyYAML's `type:json` with ours; floats by value, errors as errors.
fn same(python: &str, ours: &str) -> bool {
    if python.starts_with("error:") && ours.starts_with("error:") {
        return true;
    }
    if let (Some(p), Some(o)) = (python.strip_prefix("float:"), ours.strip_prefix("float:")) {
        return p.parse::<f64>().ok() == o.parse::<f64>().ok() || (p == "nan" && o == "nan");
    }
    python == ours
}

#[test]
fn every_scalar_reads_as_pyyaml_reads_it() {
    let documents: Vec<(String, serde_json::Value)> = CASES
        .iter()
        .map(|c| (format!("v: {c}\n"), serde_json::json!(["v"])))
        .collect();
    let Some(theirs) = pyyaml(&documents) else {
        return;
    };
    let mut wrong = Vec::new();
    for ((case, (doc, _)), python) in CASES.iter().zip(&documents).zip(&theirs) {
        let ours = match stemzip::yaml::parse(doc) {
            Ok(value) => python_form(value.get("v").unwrap_or(&Value::Null)),
            Err(e) => format!("error:{e}"),
        };
        if !same(python, &ours) {
            wrong.push(format!("{case:?}: PyYAML {python}, stemzip {ours}"));
        }
    }
    assert!(wrong.is_empty(), "read differently:\n{}", wrong.join("\n"));
}

/// Texts a saved value may hold beyond the scalar table: characters that
/// must be escaped or that would end a line or a list item.
const AWKWARD_TEXTS: &[&str] = &[
    "a\u{7f}b",
    "a\u{85}b",
    "a\u{2028}b",
    "x\u{fffe}",
    "tab\there",
    "nl\nx",
    "cr\rx",
    "bs\\x",
    "q\"x",
    "it's",
    "f -",
    "x, y",
    "[x]",
    "{x}",
    "a: b",
    "a #b",
    "- x",
    "? x",
    "*x",
    "&x",
    "!x",
    "%x",
    "@x",
    "`x",
    "=",
    "<<",
    " lead",
    "trail ",
    "\u{feff}bom",
];

#[test]
fn saved_strings_read_back_as_the_same_text_in_pyyaml() {
    // Every case as a text value: as the profile's pattern, as an item of a
    // one-line list, and in the whole saved profile. Saved, each must still
    // be that text to PyYAML and to stemzip.
    let texts: Vec<String> = CASES
        .iter()
        .map(|c| c.trim_matches(|c| c == '\'' || c == '"').to_owned())
        .chain(AWKWARD_TEXTS.iter().map(|t| (*t).to_owned()))
        .collect();
    let mut documents = Vec::new();
    for text in &texts {
        let mut profile = Profile::default();
        profile.file_management.filename.pattern = Some(text.clone());
        profile.analysis.filename.extension = vec![text.clone(), "csv".to_owned()];
        let yaml = profile.to_yaml().unwrap();
        let again = Profile::parse(&yaml, "saved", &[]).unwrap();
        assert_eq!(
            again.file_management.filename.pattern.as_deref(),
            Some(&**text),
            "{yaml}"
        );
        assert_eq!(again.analysis.filename.extension[0], *text, "{yaml}");
        documents.push((
            yaml.clone(),
            serde_json::json!(["file_management", "filename", "pattern"]),
        ));
        documents.push((
            yaml,
            serde_json::json!(["analysis", "filename", "extension", 0]),
        ));
    }
    let Some(theirs) = pyyaml(&documents) else {
        return;
    };
    let mut wrong = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let expected = python_form(&Value::String(text.clone()));
        for (j, python) in theirs[2 * i..2 * i + 2].iter().enumerate() {
            if !same(python, &expected) {
                wrong.push(format!(
                    "{text:?} saved as\n{}reads as {python}",
                    documents[2 * i + j].0
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn yaml_1_1_booleans_and_numbers_configure_a_run() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile(
        "parallel_processing:\n  enabled: No\n  save_error_reports: on\n  progress_reporting: off\n  timeout_per_file: 1_0:00\ndefault:\n  config:\n    overwrite:\n      output: no\n",
    );
    let plan = plan(&p);
    assert_eq!(
        plan.settings.workers.get(),
        1,
        "enabled: No turns parallel work off"
    );
    assert!(plan.settings.save_error_reports);
    assert!(!plan.settings.progress_reporting);
    assert_eq!(
        plan.settings.timeout,
        Some(std::time::Duration::from_secs(600))
    );
    assert!(!plan.settings.overwrite);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}
