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

/// Loads each document with PyYAML's safe loader; for each, the value under
/// `v` as `type:repr` (or `error:…`).
fn pyyaml(documents: &[String]) -> Option<Vec<String>> {
    let Some(py) = python_with_yaml() else {
        if std::env::var_os("STEMZIP_REQUIRE_READERS").is_some() {
            panic!("no python3 with PyYAML (python3-yaml); CI must install it");
        }
        eprintln!("SKIPPED: no python3 with PyYAML here; the parity check did not run");
        return None;
    };
    let script = r#"
import json, sys, yaml
out = []
for doc in json.load(sys.stdin):
    try:
        v = yaml.safe_load(doc)
        v = v.get("v") if isinstance(v, dict) else v
        out.append(type(v).__name__ + ":" + repr(v))
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

/// The `type:repr` PyYAML prints, for a value stemzip read.
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "NoneType:None".to_owned(),
        Value::Bool(b) => format!("bool:{}", if *b { "True" } else { "False" }),
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
        Value::String(s) => format!("str:{s}"),
        other => format!("other:{other:?}"),
    }
}

/// Compares a PyYAML `type:repr` with ours, floats by value.
fn same(python: &str, ours: &str) -> bool {
    if python.starts_with("error:") && ours.starts_with("error:") {
        return true;
    }
    if let (Some(p), Some(o)) = (python.strip_prefix("float:"), ours.strip_prefix("float:")) {
        return p.parse::<f64>().ok() == o.parse::<f64>().ok() || (p == "nan" && o == "nan");
    }
    if let Some(p) = python.strip_prefix("str:") {
        // repr() quotes and escapes; compare through Python's own quoting.
        return ours.strip_prefix("str:").is_some_and(|o| {
            let quoted = if o.contains('\'') && !o.contains('"') {
                format!("\"{o}\"")
            } else {
                format!("'{}'", o.replace('\\', "\\\\").replace('\'', "\\'"))
            };
            p == quoted
        });
    }
    python == ours
}

#[test]
fn every_scalar_reads_as_pyyaml_reads_it() {
    let documents: Vec<String> = CASES.iter().map(|c| format!("v: {c}\n")).collect();
    let Some(theirs) = pyyaml(&documents) else {
        return;
    };
    let mut wrong = Vec::new();
    for ((case, doc), python) in CASES.iter().zip(&documents).zip(&theirs) {
        let ours = match stemzip::yaml::parse(doc) {
            Ok(value) => python_repr(value.get("v").unwrap_or(&Value::Null)),
            Err(e) => format!("error:{e}"),
        };
        if !same(python, &ours) {
            wrong.push(format!("{case:?}: PyYAML {python}, stemzip {ours}"));
        }
    }
    assert!(wrong.is_empty(), "read differently:\n{}", wrong.join("\n"));
}

#[test]
fn saved_strings_read_back_as_the_same_text_in_pyyaml() {
    // Every case as a text value (pattern, an unknown key, a list item):
    // saved, it must still be that text to PyYAML and to stemzip.
    let mut documents = Vec::new();
    let mut texts = Vec::new();
    for case in CASES {
        let text = case.trim_matches(|c| c == '\'' || c == '"').to_owned();
        let mut profile = Profile::default();
        profile.file_management.filename.pattern = Some(text.clone());
        profile.analysis.filename.extension = vec![text.clone(), "csv".to_owned()];
        let yaml = profile.to_yaml().unwrap();
        let again = Profile::parse(&yaml, "saved", &[]).unwrap();
        assert_eq!(
            again.file_management.filename.pattern.as_deref(),
            Some(&*text),
            "{yaml}"
        );
        assert_eq!(again.analysis.filename.extension[0], text, "{yaml}");
        documents.push(format!(
            "v: {}\n",
            stemzip::yaml::to_string(&Value::String(text.clone()))
                .unwrap()
                .trim_end()
        ));
        documents.push(
            yaml.replacen("pattern:", "v_:", 1)
                .replace("file_management:", "v_fm:"),
        );
        texts.push(text);
    }
    let Some(theirs) = pyyaml(&documents) else {
        return;
    };
    for (i, text) in texts.iter().enumerate() {
        let python = &theirs[2 * i];
        assert!(
            same(python, &format!("str:{text}")),
            "{text:?} saved as {:?} reads as {python} in PyYAML",
            documents[2 * i]
        );
        assert!(
            !theirs[2 * i + 1].starts_with("error"),
            "{}",
            theirs[2 * i + 1]
        );
    }
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
