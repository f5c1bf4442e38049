use super::*;

/// Trimmed from `runc spec`, with a few large numbers added.
const RUNTIME_CONFIG: &str = r#"{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": true,
		"user": { "uid": 0, "gid": 0, "additionalGids": [4294967295] },
		"args": [ "sh", "-c", "echo \"hi\" \\ \u00e9 \ud83d\ude00" ],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
			"effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
		},
		"rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
		"noNewPrivileges": true
	},
	"root": { "path": "rootfs", "readonly": true },
	"hostname": "runc",
	"mounts": [
		{ "destination": "/proc", "type": "proc", "source": "proc" },
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ]
		}
	],
	"linux": {
		"uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
		"resources": {
			"devices": [ { "allow": false, "access": "rwm" } ],
			"memory": { "limit": 9223372036854775807, "swap": -1 },
			"cpu": { "shares": 1024, "quota": -9223372036854775808, "period": 100000 },
			"blockIO": { "weight": 0.5 }
		},
		"namespaces": [ { "type": "pid" }, { "type": "mount" } ],
		"maskedPaths": [ "/proc/acpi", "/proc/kcore" ],
		"sysctl": {},
		"seccomp": null
	}
}"#;

fn err(text: &str) -> Error {
    match parse(text) {
        Ok(v) => panic!("{text:?} parsed as {v}"),
        Err(e) => e,
    }
}

fn round_trip(v: &Value) {
    let compact = v.to_string();
    assert_eq!(&parse(&compact).unwrap(), v, "{compact}");
    let pretty = v.to_pretty();
    assert_eq!(&parse(&pretty).unwrap(), v, "{pretty}");
}

#[test]
fn runtime_config_reads_and_round_trips() {
    let v = parse(RUNTIME_CONFIG).unwrap();
    let process = v.get("process").unwrap();
    let args: Vec<&str> = process
        .get("args")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["sh", "-c", "echo \"hi\" \\ é 😀"]);
    let user = process.get("user").unwrap();
    assert_eq!(user.get("uid").and_then(Value::as_u64), Some(0));
    let gids = user
        .get("additionalGids")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(gids[0].as_u64(), Some(4294967295));
    let resources = v.get("linux").and_then(|l| l.get("resources")).unwrap();
    let memory = resources.get("memory").unwrap();
    assert_eq!(memory.get("limit").unwrap().as_i64(), Some(i64::MAX));
    assert_eq!(memory.get("swap").unwrap().as_i64(), Some(-1));
    assert_eq!(memory.get("swap").unwrap().as_u64(), None);
    let quota = resources.get("cpu").and_then(|c| c.get("quota")).unwrap();
    assert_eq!(quota.as_i64(), Some(i64::MIN));
    let weight = resources
        .get("blockIO")
        .and_then(|b| b.get("weight"))
        .unwrap();
    assert_eq!((weight.as_f64(), weight.as_u64()), (Some(0.5), None));
    assert!(v.get("linux").unwrap().get("seccomp").unwrap().is_null());
    assert_eq!(
        v.get("root").unwrap().get("readonly").unwrap().as_bool(),
        Some(true)
    );
    assert_eq!(v.get("nope"), None);
    assert_eq!(v.get("hostname").unwrap().get("x"), None);
    // Order is kept.
    let keys: Vec<&str> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "ociVersion",
            "process",
            "root",
            "hostname",
            "mounts",
            "linux"
        ]
    );
    round_trip(&v);
    // Printing is canonical: a print parses back to a value that prints the same.
    let compact = v.to_string();
    assert_eq!(parse(&compact).unwrap().to_string(), compact);
    assert!(
        compact.contains(r#""limit":9223372036854775807,"swap":-1"#),
        "{compact}"
    );
    assert!(compact.contains(r#"\"hi\" \\ é 😀""#), "{compact}");
}

#[test]
fn pretty_and_compact_forms() {
    let v = parse(r#" {"a": [1, {"b": null}, [], {}], "c": "x"} "#).unwrap();
    assert_eq!(v.to_string(), r#"{"a":[1,{"b":null},[],{}],"c":"x"}"#);
    let pretty = "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    },\n    [],\n    {}\n  ],\n  \"c\": \"x\"\n}";
    assert_eq!(v.to_pretty(), pretty);
    assert_eq!(Value::Array(vec![]).to_pretty(), "[]");
    assert_eq!(Value::from("é").to_pretty(), "\"é\"");
}

#[test]
fn numbers() {
    let num = |t: &str| parse(t).unwrap().as_number().copied().unwrap();
    assert_eq!(num("0").as_u64(), Some(0));
    assert_eq!(num("-0"), num("0")); // an integer: -0 is 0
    assert_eq!(num("-0.0").as_f64().to_bits(), (-0.0f64).to_bits());
    assert_eq!(num("1.5e-3").as_f64(), 0.0015);
    assert_eq!(num("1E+2").as_f64(), 100.0);
    assert_eq!(num("1e-400").as_f64(), 0.0); // underflow is finite
    assert_eq!(num("18446744073709551615").as_u64(), Some(u64::MAX));
    assert_eq!(num("18446744073709551615").as_i64(), None);
    assert_eq!(num("-9223372036854775808").as_i64(), Some(i64::MIN));
    // Beyond the integers: a float, rounded.
    assert_eq!(num("18446744073709551616").as_f64(), 18446744073709551616.0);
    assert_eq!(num("18446744073709551616").as_u64(), None);
    assert_eq!(num("-9223372036854775809").as_i64(), None);
    // 5 and 5.0 differ, and each prints in its own form.
    assert_ne!(num("5"), num("5.0"));
    for (text, printed) in [
        ("5.0", "5.0"),
        ("5e0", "5.0"),
        ("-0.0", "-0.0"),
        ("1e300", "1e300"),
        ("123.456", "123.456"),
        ("-12", "-12"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e308"),
    ] {
        let v = parse(text).unwrap();
        assert_eq!(v.to_string(), printed);
        round_trip(&v);
    }
    assert_eq!(Number::from_f64(f64::NAN), None);
    assert_eq!(Number::from_f64(f64::INFINITY), None);
    assert_eq!(Value::from(-3i64), parse("-3").unwrap());
    assert_eq!(Value::from(3i64), parse("3").unwrap());
    for bad in [
        "1e400", "-1e400", "01", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+", "0x1",
    ] {
        let e = err(bad);
        assert!(e.offset <= bad.len(), "{bad}: {e}");
    }
    assert_eq!(err("1e400").msg, "number out of range");
    assert_eq!(err("[01]").msg, "leading zero in a number");
    assert_eq!(err("-x").to_string(), "line 1 column 2: expected a digit");
}

#[test]
fn strings() {
    let s = |t: &str| parse(t).unwrap().as_str().unwrap().to_owned();
    assert_eq!(s(r#""\u00e9""#), "é");
    assert_eq!(s(r#""\u00E9\u0000""#), "é\0");
    assert_eq!(s(r#""\ud83d\ude00""#), "😀");
    assert_eq!(s(r#""\"\\\/\b\f\n\r\t""#), "\"\\/\u{8}\u{c}\n\r\t");
    assert_eq!(s("\"é😀\u{7f}\""), "é😀\u{7f}");
    for bad in [
        r#""\ud800""#,
        r#""\ud800x""#,
        r#""\ud800\u0041""#,
        r#""\udc00""#,
        r#""\ude00\ud83d""#,
        r#""\u12""#,
        r#""\u12g4""#,
        r#""\x""#,
        r#""\"#,
        "\"a\tb\"",
        "\"a\nb\"",
        "\"\u{1f}\"",
        "\"abc",
        "'a'",
    ] {
        err(bad);
    }
    assert_eq!(err(r#"["\ud800"]"#).msg, "lone surrogate \\ud800");
    assert_eq!(
        err("\"abc").to_string(),
        "line 1 column 1: unterminated string"
    );
    assert_eq!(err("\"a\u{1}\"").offset, 2);
    // Escaping: the same bytes as the status and event writers always printed.
    let mut out = String::new();
    escape_into(&mut out, "a\"b\\\n\r\t\u{1}\u{1f}\u{7f}é/");
    assert_eq!(out, "\"a\\\"b\\\\\\n\\r\\t\\u0001\\u001f\u{7f}é/\"");
    assert_eq!(
        parse(&out).unwrap().as_str(),
        Some("a\"b\\\n\r\t\u{1}\u{1f}\u{7f}é/")
    );
}

#[test]
fn structure_errors() {
    for bad in [
        "",
        " ",
        "[1,]",
        "{\"a\":1,}",
        "[,1]",
        "{,}",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":}",
        "{1:2}",
        "{\"a\"}",
        "[",
        "]",
        "{",
        "tru",
        "nul",
        "True",
        "[1]x",
        "1 2",
        "[] []",
        "// c\n1",
        "/* c */ 1",
        "[1] // c",
        "\u{feff}1",
        "\u{a0}1",
        "\u{c}1",
        "NaN",
        "Infinity",
        "[1,,2]",
    ] {
        err(bad);
    }
    for good in [
        "1",
        " \t\r\n[ 1 , 2 ]\n",
        "null",
        "true",
        "false",
        "\"\"",
        "[[]]",
        "{\"\":{}}",
    ] {
        round_trip(&parse(good).unwrap());
    }
    let e = err("{\n  \"a\": 1,\n  \"b\": [1, 2] 3\n}");
    assert_eq!((e.line, e.column, e.offset), (3, 15, 26));
    assert_eq!(e.to_string(), "line 3 column 15: expected ',' or '}'");
    // Columns count characters, not bytes.
    assert_eq!(err("[\"é😀\" x]").column, 7);
    assert_eq!(err("[1,]").to_string(), "line 1 column 4: expected a value");
    assert_eq!(
        err("{\"a\":1,}").to_string(),
        "line 1 column 8: expected a key"
    );
    assert_eq!(err("tru").to_string(), "line 1 column 1: expected a value");
    assert_eq!(err("[1] x").msg, "unexpected text after the value");
}

#[test]
fn duplicate_keys_are_refused() {
    let e = err("{\"b\":1,\"a\":2,\n\"b\":3}");
    assert_eq!(e.to_string(), "line 2 column 1: duplicate key \"b\"");
    err("{\"x\":{\"a\":1,\"a\":1}}");
    // The same key in different objects is fine.
    parse("[{\"a\":1},{\"a\":{\"a\":2}}]").unwrap();
    // Many keys: sorted, not compared pairwise.
    let many: Vec<String> = (0..20000).map(|i| format!("\"k{i}\":{i}")).collect();
    let v = parse(&format!("{{{}}}", many.join(","))).unwrap();
    assert_eq!(v.get("k19999").and_then(Value::as_u64), Some(19999));
}

#[test]
fn nesting_is_limited() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    round_trip(&parse(&nested(MAX_DEPTH)).unwrap());
    let e = err(&nested(MAX_DEPTH + 1));
    assert_eq!(
        (e.offset, e.msg.as_str()),
        (MAX_DEPTH, "nesting deeper than 128")
    );
    err(&"[".repeat(10000));
    err(&"{\"a\":".repeat(10000));
    err(&format!("{}1{}", "[".repeat(100000), "]".repeat(100000)));
}

#[test]
fn bytes_must_be_utf8() {
    assert_eq!(parse_bytes(b"[\"a\"]").unwrap(), parse("[\"a\"]").unwrap());
    let e = parse_bytes(b"[\n \"\xff\"]").unwrap_err();
    assert_eq!(e.to_string(), "line 2 column 3: invalid UTF-8");
    assert_eq!(e.offset, 4);
    parse_bytes(b"\"\xed\xa0\x80\"").unwrap_err(); // a surrogate encoded in UTF-8
}

#[test]
fn typed_reading_errors() {
    let v = parse(r#"{"process":{"args":"sh"}}"#).unwrap();
    let args = v.get("process").and_then(|p| p.get("args")).unwrap();
    let e = args
        .as_array()
        .ok_or_else(|| args.wrong_type("process.args", "array"));
    assert_eq!(
        e.unwrap_err().to_string(),
        "process.args: expected array, found string"
    );
    let kinds: Vec<&str> = parse(r#"[null,true,1,"",[],{}]"#)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(Value::kind)
        .collect();
    assert_eq!(
        kinds,
        ["null", "boolean", "number", "string", "array", "object"]
    );
    let built = Value::Object(vec![
        ("n".into(), Value::from(4294967295u64)),
        ("s".into(), Value::from("a\u{0}b")),
        (
            "a".into(),
            Value::Array(vec![Value::Bool(true), Value::Null]),
        ),
    ]);
    assert_eq!(
        built.to_string(),
        r#"{"n":4294967295,"s":"a\u0000b","a":[true,null]}"#
    );
    round_trip(&built);
}

#[test]
fn escaping_matches_the_old_event_writer() {
    // `dynamic::json_string` before it used `escape_into`, char by char.
    fn old(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    let all: String = (0..0x800)
        .chain([0x2028, 0xfeff, 0xffff, 0x1f600, 0x10ffff])
        .filter_map(char::from_u32)
        .collect();
    for s in [all.as_str(), "", "plain", "\"\"", "\\"] {
        let mut new = String::new();
        escape_into(&mut new, s);
        assert_eq!(new, old(s));
        assert_eq!(parse(&new).unwrap().as_str(), Some(s));
    }
}
