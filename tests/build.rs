//! Builds the hostile test components the end-to-end tests load.

fn main() {
    wasm_build::build_components(&["fs-reader", "hostile"]);
}
