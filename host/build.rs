//! Builds the two guest components the `mcs` binary embeds.

fn main() {
    wasm_build::build_components(&["guest-auth", "guest-mail"]);
}
