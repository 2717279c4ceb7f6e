//! Builds the test components the end-to-end tests load: the hostile ones, and the example
//! GitHub tool component (`examples/github-tool`).

fn main() {
    wasm_build::build_components(&["fs-reader", "hostile", "github-tool"]);
}
