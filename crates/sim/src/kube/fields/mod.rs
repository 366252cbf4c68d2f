//! Field ownership (`metadata.managedFields`) and server-side apply, after structured-merge-diff:
//! field sets and their `FieldsV1` encoding (set.rs), type information from CRD schemas and the
//! built-in kinds (types.rs, builtin.rs), the value walks (walk.rs, merge.rs) and the field manager
//! (managed.rs).

pub mod builtin;
pub mod conflicts;
pub mod entries;
pub mod managed;
pub mod merge;
pub mod set;
pub mod types;
pub mod walk;

use super::resources::ResourceType;
use types::Node;

/// The type of `rt` objects written at `version`.
pub fn root<'a>(rt: &'a ResourceType, version: &str) -> Node<'a> {
    match rt.schema(version) {
        Some(vs) => Node::Typed(&vs.typed),
        None => Node::Typed(builtin::builtin(&rt.group, &rt.plural)),
    }
}

/// copies: the manager of an update without `fieldManager`: the User-Agent up to its first
/// `/`, printable characters only, at most 128 bytes.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}
