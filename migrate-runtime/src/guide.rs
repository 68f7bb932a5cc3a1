// The guide, one module per page: the repository's docs/*.md, which
// build.rs rewrites for rustdoc (through the symlink guide/) so that docs.rs
// shows them. The index, docs/README.md, is this module's doc.
#![doc = include_str!(concat!(env!("OUT_DIR"), "/guide/index.md"))]

include!(concat!(env!("OUT_DIR"), "/guide.rs"));
