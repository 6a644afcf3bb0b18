//! Puts every data set the course reads where the lab finds it: checks the files under
//! `GRADSTEP_DATA_DIR` or in the cache, and downloads (with their checksums checked) those that
//! are missing. `cargo xtask data` runs it, and so do the commands that start notebook kernels:
//! the notebooks load the lab without its `download` feature (see `crates/xtask/src/notebook.rs`),
//! so the files must be in place before a kernel needs them.
//!
//! `cargo run -p gradstep-lab --example fetch_data`
use gradstep_lab::data::{DataDir, airfoil, mnist};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = DataDir::from_env();
    for file in [&airfoil::FILE, &mnist::FILE] {
        let path = dir.locate(file)?;
        println!("{} ({}) at {}", file.name, file.url, path.display());
    }
    Ok(())
}
