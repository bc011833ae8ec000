//! Price books from files: one provider's TOML file, or a folder of them (like the repository's `prices/`), and
//! override files. What was read is returned with the book, so a caller can rebuild the same book elsewhere.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::prices::book::PriceBook;
use crate::prices::schema;

/// A schema error as a core error.
pub fn schema_error(e: schema::SchemaError) -> Error {
    Error::PriceBook(e.to_string())
}

/// One TOML file as JSON values (what the schema reads).
pub fn read_toml(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    let value: toml::Value =
        toml::from_str(&text).map_err(|e| Error::PriceBook(format!("{}: not valid TOML: {e}", path.display())))?;
    serde_json::to_value(&value).map_err(|e| Error::PriceBook(format!("{}: {e}", path.display())))
}

/// The price files of a path: the file itself, or a folder's `*.toml` files in name order.
pub fn price_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

impl PriceBook {
    /// A book from provider definitions in the price-file schema, each with the origin its errors name.
    pub fn from_values(values: &[(Value, String)], origin: &str) -> Result<PriceBook> {
        let defs = values
            .iter()
            .map(|(v, o)| schema::provider_from_value(v, o).map_err(schema_error))
            .collect::<Result<Vec<_>>>()?;
        PriceBook::from_defs(defs, origin)
    }

    /// A book from price files (a provider's TOML file or a folder of them), with the definitions read, in order.
    pub fn load_path(path: &Path) -> Result<(PriceBook, Vec<Value>)> {
        let values = price_files(path)?
            .iter()
            .map(|f| Ok((read_toml(f)?, f.display().to_string())))
            .collect::<Result<Vec<_>>>()?;
        let book = PriceBook::from_values(&values, &path.display().to_string())?;
        Ok((book, values.into_iter().map(|(v, _)| v).collect()))
    }

    /// A new book with the overrides of a TOML file (`discounts`, `providers`) layered on this one, with the
    /// overrides read.
    pub fn with_overrides_file(&self, path: &Path) -> Result<(PriceBook, Value)> {
        let value = read_toml(path)?;
        let book = self.with_overrides_value(&value, &path.display().to_string())?;
        Ok((book, value))
    }

    /// A new book with overrides given as a value in the override schema, named `origin` in errors.
    pub fn with_overrides_value(&self, value: &Value, origin: &str) -> Result<PriceBook> {
        let defs = schema::overrides_from_value(value, origin).map_err(schema_error)?;
        self.with_overrides(defs, &format!("{} + {origin}", self.origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tokenprice-load-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const ACME: &str = r#"
schema = 1
id = "acme"
owns = [{ starts_with = "acme-" }]

[[models]]
id = "acme-1"
prices = [{ input_per_mtok = "1", output_per_mtok = "2" }]
"#;

    #[test]
    fn a_folder_reads_its_toml_files_in_name_order_and_skips_others() {
        let dir = temp_dir("folder");
        std::fs::write(dir.join("b.toml"), ACME.replace("acme", "bravo")).unwrap();
        std::fs::write(dir.join("a.toml"), ACME).unwrap();
        std::fs::write(dir.join("notes.md"), "not a price file").unwrap();
        let files = price_files(&dir).unwrap();
        assert_eq!(
            files.iter().map(|f| f.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(),
            ["a.toml", "b.toml"]
        );
        let (book, values) = PriceBook::load_path(&dir).unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(book.providers.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["acme", "bravo"]);
        // One file alone is a book too.
        let (one, _) = PriceBook::load_path(&dir.join("a.toml")).unwrap();
        assert_eq!(one.providers.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let dir = temp_dir("errors");
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "this is = = not toml").unwrap();
        let e = PriceBook::load_path(&bad).unwrap_err();
        assert!(matches!(&e, Error::PriceBook(m) if m.contains("bad.toml") && m.contains("not valid TOML")), "{e}");
        let e = PriceBook::load_path(&dir.join("missing.toml")).unwrap_err();
        assert!(matches!(&e, Error::Io { path, .. } if path.ends_with("missing.toml")), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
