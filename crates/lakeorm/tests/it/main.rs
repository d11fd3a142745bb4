//! Integration tests of the model layer: the derive, the projection, the decoder, validation and
//! strict JSON.

mod client;
mod decode;
mod json;
mod migrate;
mod models;
mod roundtrip;
mod schema;
mod staging;
mod validation;
