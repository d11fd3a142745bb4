//! Validation at the application boundary: built-in rules, custom rules registered at runtime,
//! and every failure of every record reported at once.
//!
//! Run with `cargo run --example validation`.

use lakeorm::{Lake, register_validator};

#[derive(Lake, Debug, Clone)]
struct Signup {
    #[lake(pk, validate = "email")]
    email: String,
    #[lake(validate = "length(min = 1, max = 64)")]
    name: String,
    #[lake(validate = "regex(^(UK|US|DE|FR)$)")]
    country: String,
    #[lake(validate = "custom(uk_postcode)")]
    postcode: Option<String>,
    #[lake(validate = "url")]
    homepage: Option<String>,
    #[lake(validate = "range(min = 13, max = 130)")]
    age: u8,
}

fn main() {
    register_validator("uk_postcode", |p: &String| {
        let compact: String = p.chars().filter(|c| !c.is_whitespace()).collect();
        if (5..=7).contains(&compact.len()) && compact.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(format!("`{p}` is not a UK postcode"))
        }
    });

    let signups = vec![
        Signup {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            country: "UK".into(),
            postcode: Some("SW1A 1AA".into()),
            homepage: None,
            age: 36,
        },
        Signup {
            email: "nope".into(),
            name: String::new(),
            country: "Mars".into(),
            postcode: Some("??".into()),
            homepage: Some("not a url".into()),
            age: 9,
        },
        Signup {
            email: "grace@example.com".into(),
            name: "Grace".into(),
            country: "US".into(),
            postcode: None,
            homepage: Some("https://example.com".into()),
            age: 45,
        },
    ];

    match lakeorm::validate(&signups) {
        Ok(()) => println!("all valid"),
        Err(e) => {
            println!("{} failures:", e.errors().len());
            for f in e.errors() {
                println!(
                    "  row {:?} {:<9} {:<28} {}",
                    f.row, f.field, f.rule, f.message
                );
            }
        }
    }
    let valid: Vec<&Signup> = signups.iter().filter(|s| s.validate().is_ok()).collect();
    println!(
        "{} of {} records would be written",
        valid.len(),
        signups.len()
    );
}
