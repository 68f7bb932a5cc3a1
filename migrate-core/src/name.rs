//! File naming: `NNN_name.sql`, at least three digits, then `_`, then
//! lowercase `a-z`, `0-9` and `_`.

/// A valid migration file name, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub version: u64,
    /// The part between the version's `_` and `.sql`.
    pub description: String,
}

/// Why a `.sql` file's name is not a migration name, and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameProblem {
    pub reasons: Vec<String>,
    pub suggestion: String,
}

/// Parses `NNN_name.sql`. `next_free` is the version suggested for a file
/// that has none.
pub fn parse(file_name: &str, next_free: u64) -> Result<FileName, NameProblem> {
    let (stem, ext) = match file_name.rfind('.') {
        Some(p) => (&file_name[..p], &file_name[p + 1..]),
        None => (file_name, ""),
    };
    let digits_len = stem.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, rest) = stem.split_at(digits_len);
    let mut reasons = Vec::new();

    if ext != "sql" {
        reasons.push(format!("the extension `.{ext}` must be lowercase `.sql`"));
    }
    let version = if digits.is_empty() {
        reasons.push("it does not start with a version number".to_string());
        None
    } else {
        if digits.len() < 3 {
            reasons.push(format!("the version `{digits}` has fewer than three digits"));
        }
        let parsed = digits.parse::<u64>().ok();
        if parsed.is_none() {
            reasons.push(format!("the version `{digits}` is too large (at most {})", u64::MAX));
        }
        parsed
    };
    let description = match rest.strip_prefix('_') {
        Some(d) if !digits.is_empty() => d,
        _ if digits.is_empty() => rest,
        _ => {
            match rest.chars().next() {
                Some(sep) => reasons.push(format!("the version is followed by `{sep}` instead of `_`")),
                None => reasons.push("the version is not followed by `_` and a name".to_string()),
            }
            rest.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        }
    };
    if !digits.is_empty() && description.is_empty() && rest.starts_with('_') {
        reasons.push("the name after the version is empty".to_string());
    } else if !description.is_empty() && !is_description(description) {
        reasons.push("the name may only hold lowercase letters `a-z`, digits and `_`".to_string());
    }

    match version {
        Some(version) if reasons.is_empty() => Ok(FileName {
            version,
            description: description.to_string(),
        }),
        _ => {
            let width = digits.len().max(3);
            let version = version.unwrap_or(next_free);
            let mut name = normalize(description);
            if name.is_empty() {
                name = "describe_the_change".to_string();
            }
            Err(NameProblem {
                reasons,
                suggestion: format!("{version:0width$}_{name}.sql"),
            })
        }
    }
}

fn is_description(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Turns free text into a migration name: `"Add Email-Verification"` →
/// `add_email_verification`. Non-ASCII letters are dropped.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') && (c.is_whitespace() || c.is_ascii_punctuation()) {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// `NNN_name.sql` for a new migration: at least three digits.
pub fn file_name(version: u64, description: &str) -> String {
    format!("{version:03}_{description}.sql")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suggestion(name: &str) -> String {
        parse(name, 4).unwrap_err().suggestion
    }

    #[test]
    fn valid_names_parse() {
        let parsed = parse("003_add_email_verification.sql", 1).unwrap();
        assert_eq!(parsed.version, 3);
        assert_eq!(parsed.description, "add_email_verification");
        assert_eq!(parse("20240101_x2.sql", 1).unwrap().version, 20240101);
    }

    #[test]
    fn db_init_py_wrong_names_get_suggestions() {
        assert_eq!(suggestion("1_feature.sql"), "001_feature.sql");
        assert_eq!(suggestion("001-feature.sql"), "001_feature.sql");
        assert_eq!(
            suggestion("v9c_subscription_system.sql"),
            "004_v9c_subscription_system.sql"
        );
        assert_eq!(suggestion("check_features.sql"), "004_check_features.sql");
    }

    #[test]
    fn other_mistakes_get_suggestions() {
        assert_eq!(suggestion("001_Add Email.sql"), "001_add_email.sql");
        assert_eq!(suggestion("001_x.SQL"), "001_x.sql");
        assert_eq!(suggestion("001.sql"), "001_describe_the_change.sql");
        assert_eq!(suggestion("001_.sql"), "001_describe_the_change.sql");
        assert_eq!(suggestion("0042feature.sql"), "0042_feature.sql");
    }

    #[test]
    fn reasons_say_what_is_wrong() {
        let problem = parse("1-Feature.sql", 1).unwrap_err();
        assert_eq!(problem.reasons.len(), 3, "{:?}", problem.reasons);
    }

    #[test]
    fn normalize_makes_names() {
        assert_eq!(normalize("Add Email Verification"), "add_email_verification");
        assert_eq!(normalize("  fix: features!! v2 "), "fix_features_v2");
    }
}
