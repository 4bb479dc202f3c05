//! Parameters: what a job declares it takes ([`ParamSpec`]), and the checks that turn
//! the values given for a run (as JSON by the API, as text by the dashboard's form)
//! into the values the run gets ([`resolve`]): each declared, of its type, required
//! ones present, defaults filled in.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The values a run gets, by parameter name.
pub type Params = serde_json::Map<String, Value>;

/// Most parameters a job may declare, longest text value, most choices of one.
pub const MAX_PARAMS: usize = 32;
pub const MAX_TEXT_BYTES: usize = 4096;
pub const MAX_CHOICES: usize = 64;

/// A value's type. Numbers are JSON numbers, `integer` ones without a fraction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    #[default]
    String,
    Integer,
    Number,
    Boolean,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }
}

/// One parameter a job declares. A run that gives no value gets `default`; one without
/// a default is `required` or left out of the run's values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// `[a-z][a-z0-9_]{0,63}`: it also names the command's environment variable
    /// `CRONWATCH_PARAM_<NAME>`.
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The only values allowed (strings only), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// Whether `name` may name a parameter.
pub fn is_valid_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=64).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a job's declarations; `scheduled` jobs must be able to run with no value
/// given. The error says what to fix.
pub fn check_specs(specs: &[ParamSpec], scheduled: bool) -> Result<(), String> {
    if specs.len() > MAX_PARAMS {
        return Err(format!("params: at most {MAX_PARAMS}"));
    }
    for (i, spec) in specs.iter().enumerate() {
        let at = format!("params[{i}]");
        if !is_valid_param_name(&spec.name) {
            return Err(format!(
                "{at}.name {:?} is invalid: use [a-z][a-z0-9_]{{0,63}}",
                spec.name
            ));
        }
        if specs[..i].iter().any(|s| s.name == spec.name) {
            return Err(format!("{at}.name {:?} is declared twice", spec.name));
        }
        if spec.description.chars().count() > 500 || spec.description.contains('\0') {
            return Err(format!("{at}.description: at most 500 characters, no NUL"));
        }
        if !spec.choices.is_empty() {
            if spec.kind != ParamType::String {
                return Err(format!("{at}.choices are for parameters of type string"));
            }
            if spec.choices.len() > MAX_CHOICES {
                return Err(format!("{at}.choices: at most {MAX_CHOICES}"));
            }
            for choice in &spec.choices {
                check_value(spec, &Value::String(choice.clone()))
                    .map_err(|e| format!("{at}.choices: {e}"))?;
            }
        }
        if let Some(default) = &spec.default {
            check_value(spec, default).map_err(|e| format!("{at}.default: {e}"))?;
        }
        if scheduled && spec.required && spec.default.is_none() {
            return Err(format!(
                "{at} ({:?}) is required and has no default, but the job has a schedule: \
                 give it a default, which scheduled runs use",
                spec.name
            ));
        }
    }
    Ok(())
}

/// The values a run of a job declaring `specs` gets from `given`: every given value
/// declared and of its type, every required one given or defaulted, defaults filled
/// in. `None` when the job declares nothing (and nothing was given).
pub fn resolve(specs: &[ParamSpec], given: &Params) -> Result<Option<Params>, String> {
    if let Some(unknown) = given.keys().find(|k| !specs.iter().any(|s| &&s.name == k)) {
        return Err(if specs.is_empty() {
            format!("params: this job declares no parameters (got {unknown:?})")
        } else {
            let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            format!(
                "params: this job declares no parameter {unknown:?} (it declares {})",
                names.join(", ")
            )
        });
    }
    if specs.is_empty() {
        return Ok(None);
    }
    let mut values = Params::new();
    for spec in specs {
        match given.get(&spec.name).or(spec.default.as_ref()) {
            Some(value) => {
                check_value(spec, value).map_err(|e| format!("params.{}: {e}", spec.name))?;
                values.insert(spec.name.clone(), value.clone());
            }
            None if spec.required => {
                return Err(format!("params.{} is required: give it a value", spec.name))
            }
            None => {}
        }
    }
    Ok(Some(values))
}

/// A value typed as text (a form field) as its parameter's JSON value; an empty text
/// is no value (the default applies).
pub fn from_text(spec: &ParamSpec, text: &str) -> Result<Option<Value>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let bad = || format!("{}: {trimmed:?} is not {}", spec.name, a_type(spec.kind));
    let value = match spec.kind {
        ParamType::String => Value::String(text.to_string()),
        ParamType::Integer => Value::from(trimmed.parse::<i64>().map_err(|_| bad())?),
        ParamType::Number => trimmed
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(bad)?,
        ParamType::Boolean => match trimmed {
            "true" | "on" | "yes" => Value::Bool(true),
            "false" | "off" | "no" => Value::Bool(false),
            _ => return Err(bad()),
        },
    };
    Ok(Some(value))
}

/// A value as text, as a command's environment variable carries it: a string as it is,
/// anything else as its JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn a_type(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "a string",
        ParamType::Integer => "an integer",
        ParamType::Number => "a number",
        ParamType::Boolean => "true or false",
    }
}

/// Checks one value against its declaration.
fn check_value(spec: &ParamSpec, value: &Value) -> Result<(), String> {
    let fits = match spec.kind {
        ParamType::String => value.is_string(),
        ParamType::Integer => value.is_i64() || value.is_u64(),
        ParamType::Number => value.is_number(),
        ParamType::Boolean => value.is_boolean(),
    };
    if !fits {
        return Err(format!("{value} is not {}", a_type(spec.kind)));
    }
    if let Value::String(s) = value {
        if s.len() > MAX_TEXT_BYTES {
            return Err(format!("longer than {MAX_TEXT_BYTES} bytes"));
        }
        if s.contains('\0') {
            // An environment variable cannot carry it.
            return Err("contains a NUL character".into());
        }
        if !spec.choices.is_empty() && !spec.choices.contains(s) {
            return Err(format!("{s:?} is not one of {}", spec.choices.join(", ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn specs() -> Vec<ParamSpec> {
        serde_json::from_value(json!([
            {"name": "batch_size", "type": "integer", "default": 100},
            {"name": "mode", "choices": ["full", "quick"], "required": true},
            {"name": "dry_run", "type": "boolean"},
            {"name": "ratio", "type": "number"}
        ]))
        .unwrap()
    }

    fn given(v: Value) -> Params {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_checked_and_defaults_filled_in() {
        let got = resolve(&specs(), &given(json!({"mode": "quick", "ratio": 0.5}))).unwrap();
        assert_eq!(
            Value::Object(got.unwrap()),
            json!({"batch_size": 100, "mode": "quick", "ratio": 0.5})
        );
        assert_eq!(resolve(&[], &Params::new()), Ok(None));
        let refusals = [
            (json!({}), "params.mode is required: give it a value"),
            (json!({"mode": "slow"}), "params.mode: \"slow\" is not one of full, quick"),
            (json!({"mode": "full", "batch_size": 1.5}), "params.batch_size: 1.5 is not an integer"),
            (json!({"mode": "full", "dry_run": "yes"}), "params.dry_run: \"yes\" is not true or false"),
            (json!({"mode": "full", "size": 1}), "params: this job declares no parameter \"size\" (it declares batch_size, mode, dry_run, ratio)"),
        ];
        for (value, message) in refusals {
            assert_eq!(resolve(&specs(), &given(value)), Err(message.to_string()));
        }
        assert_eq!(
            resolve(&[], &given(json!({"x": 1}))),
            Err("params: this job declares no parameters (got \"x\")".into())
        );
    }

    #[test]
    fn declarations_are_checked() {
        assert_eq!(check_specs(&specs(), false), Ok(()));
        assert!(check_specs(&specs(), true)
            .unwrap_err()
            .contains("give it a default"));
        let bad =
            |v: Value| check_specs(&serde_json::from_value::<Vec<ParamSpec>>(v).unwrap(), false);
        assert!(bad(json!([{"name": "Mode"}]))
            .unwrap_err()
            .contains("is invalid"));
        assert!(bad(json!([{"name": "a"}, {"name": "a"}]))
            .unwrap_err()
            .contains("twice"));
        assert!(
            bad(json!([{"name": "n", "type": "integer", "default": "x"}]))
                .unwrap_err()
                .contains("default")
        );
        assert!(
            bad(json!([{"name": "n", "type": "integer", "choices": ["1"]}]))
                .unwrap_err()
                .contains("type string")
        );
        assert!(
            bad(json!([{"name": "s", "choices": ["a"], "default": "b"}]))
                .unwrap_err()
                .contains("not one of")
        );
        assert!(serde_json::from_value::<ParamSpec>(json!({"name": "a", "kind": "x"})).is_err());
    }

    #[test]
    fn form_text_becomes_typed_values() {
        let specs = specs();
        assert_eq!(from_text(&specs[0], " 42 "), Ok(Some(json!(42))));
        assert_eq!(from_text(&specs[0], ""), Ok(None));
        assert!(from_text(&specs[0], "4.2").is_err());
        assert_eq!(from_text(&specs[2], "on"), Ok(Some(json!(true))));
        assert_eq!(from_text(&specs[3], "0.25"), Ok(Some(json!(0.25))));
        assert!(from_text(&specs[3], "NaN").is_err());
        assert_eq!(from_text(&specs[1], "full"), Ok(Some(json!("full"))));
        assert_eq!(as_text(&json!("a b")), "a b");
        assert_eq!(as_text(&json!(1.5)), "1.5");
    }
}
