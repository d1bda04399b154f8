//! The two languages of every user-facing text, and the one way to write such a text: a pair
//! (English, Japanese) chosen by [`Lang::tr`] — the viewer's string table ([`strings!`]) and
//! the report's sentences go through it, so a text without both languages does not compile.

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// Japanese when LC_ALL / LC_MESSAGES / LANG (the first one set) starts with "ja".
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    return if v.starts_with("ja") {
                        Lang::Ja
                    } else {
                        Lang::En
                    };
                }
            }
        }
        Lang::En
    }

    /// The text in this language: every user-facing string is written as this pair.
    ///
    /// ```
    /// use kizashi::lang::Lang;
    /// assert_eq!(Lang::Ja.tr("cylinder radius (m)", "円柱半径 (m)"), "円柱半径 (m)");
    /// ```
    pub fn tr<'a>(self, en: &'a str, ja: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "ja" | "jp" | "japanese" => Some(Lang::Ja),
            _ => None,
        }
    }
}

/// A table of user-facing strings: `strings! { Key => "English", "日本語"; ... }` makes an enum
/// `S` with `S::Key.t(lang)` (through [`Lang::tr`]) and `S::ALL` (for the font-coverage test).
#[macro_export]
macro_rules! strings {
    ($($key:ident => $en:literal, $ja:literal;)*) => {
        /// A user-facing string; `.t(lang)` gives it in that language.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum S { $($key),* }
        impl S {
            pub const ALL: &'static [S] = &[$(S::$key),*];
            pub fn t(self, lang: $crate::lang::Lang) -> &'static str {
                match self {
                    $(S::$key => lang.tr($en, $ja),)*
                }
            }
        }
    };
}
