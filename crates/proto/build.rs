//! Generates the Rust types from `proto/*.proto` with protox (a pure-Rust
//! protobuf compiler), so no `protoc` is needed on the machine. The tonic
//! client and server for `ecommerce.ProductInfo`, and the code generator
//! that writes them, come only with the `grpc` feature.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=proto");

    let video = protox::compile(["video.proto"], ["proto"])?;
    prost_build::Config::new()
        // Frame payloads are handed on as `Bytes`: split from the receive buffer, never copied.
        .bytes([".framecast.video.Video.video_data"])
        .compile_fds(video)?;

    let handshake = protox::compile(["handshake.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(handshake)?;

    let ecommerce = protox::compile(["ecommerce.proto"], ["proto"])?;
    // The encoded descriptor set lets a gRPC server answer reflection queries.
    std::fs::write(
        out_dir.join("ecommerce_descriptor.bin"),
        prost::Message::encode_to_vec(&ecommerce),
    )?;
    // With `grpc`: the messages, the tonic client and the tonic server.
    #[cfg(feature = "grpc")]
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // docs.rs labels the generated modules (matched by package) with the
        // feature they need.
        .client_mod_attribute(
            "ecommerce",
            r#"#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]"#,
        )
        .server_mod_attribute(
            "ecommerce",
            r#"#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]"#,
        )
        .compile_fds(ecommerce)?;
    // Without: the messages only, and no tonic code generator is built.
    #[cfg(not(feature = "grpc"))]
    prost_build::Config::new().compile_fds(ecommerce)?;
    Ok(())
}
