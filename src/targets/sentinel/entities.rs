//! Sentinel entity mappings: which entity each output column names, by strong identifiers.
//!
//! A principal is mapped by what identifies it beyond doubt, not by a display name: a user as
//! an Account by its UPN's name and suffix (Name and UPNSuffix, split off by the query) and its
//! Microsoft Entra object id (AadUserId); a group as a SecurityGroup by its object id; an
//! application as a CloudApplication by its application id or name. The log source's
//! `identifies:` says which columns hold them; an event fills the kind of principal it is and
//! leaves the others empty, and Sentinel creates no entity from empty identifiers, so one
//! rule can map every kind a field may name.
//!
//! Sentinel allows [`MAX_ENTITY_MAPPINGS`] mappings per rule. When a detection has more, each
//! entity keeps its first (most telling) mapping before any entity gets a second, and the
//! mappings left out are reported, never dropped without a word.

use serde::Serialize;

use super::limits::MAX_ENTITY_MAPPINGS;
use crate::catalogue::Detection;
use crate::catalogue::logsource::Identities;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EntityMapping {
    pub entity_type: &'static str,
    pub mappings: Vec<FieldMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FieldMapping {
    pub identifier: &'static str,
    pub column: String,
}

/// The columns a UPN column is split into: the name before the `@` and the suffix after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpnParts {
    pub upn: String,
    pub name: String,
    pub suffix: String,
}

/// The parts of the user UPN of `identities`, named after its column (ActorUpn: ActorName,
/// ActorUpnSuffix; Caller: CallerName, CallerUpnSuffix).
fn u_parts(identities: &Identities) -> Option<UpnParts> {
    let upn = identities.user.as_ref()?.upn.as_ref()?;
    let stem = upn.strip_suffix("Upn").unwrap_or(upn);
    Some(UpnParts {
        upn: upn.clone(),
        name: format!("{stem}Name"),
        suffix: format!("{stem}UpnSuffix"),
    })
}

/// The UPN columns of a detection's entities that its query outputs, with the columns to split
/// each into (none whose name the query already uses).
pub(crate) fn upn_parts(detection: &Detection, outputs: &[&str]) -> Vec<UpnParts> {
    let mut out: Vec<UpnParts> = Vec::new();
    for (slot, field) in detection.meta.entities.slots() {
        let Some(parts) = field
            .and_then(|_| detection.identities_of(slot))
            .and_then(u_parts)
        else {
            continue;
        };
        let free =
            !outputs.contains(&parts.name.as_str()) && !outputs.contains(&parts.suffix.as_str());
        if outputs.contains(&parts.upn.as_str()) && free && !out.contains(&parts) {
            out.push(parts);
        }
    }
    out
}

/// The mappings of one entity column, most telling first.
fn mappings_of(
    slot: &str,
    column: &str,
    identities: Option<&Identities>,
    outputs: &[&str],
) -> Vec<EntityMapping> {
    let mapping = |entity_type, fields: &[(&'static str, Option<&String>)]| {
        let mappings: Vec<FieldMapping> = fields
            .iter()
            .filter_map(|(identifier, column)| {
                Some(FieldMapping {
                    identifier,
                    column: (*column)?.clone(),
                })
            })
            .collect();
        (!mappings.is_empty()).then_some(EntityMapping {
            entity_type,
            mappings,
        })
    };
    let single = |entity_type, identifier| {
        vec![EntityMapping {
            entity_type,
            mappings: vec![FieldMapping {
                identifier,
                column: column.to_owned(),
            }],
        }]
    };
    match slot {
        "actor" | "target_user" => match identities {
            Some(ids) => {
                // Name and UPNSuffix (the strong pair) from the UPN's parts, when the query
                // splits them off ([`upn_parts`]); else the UPN as FullName, which Sentinel
                // keeps for backward compatibility and splits itself.
                let parts = u_parts(ids).filter(|p| {
                    outputs.contains(&p.name.as_str()) && outputs.contains(&p.suffix.as_str())
                });
                let user = ids.user.as_ref().and_then(|u| match &parts {
                    Some(p) => mapping(
                        "Account",
                        &[
                            ("Name", Some(&p.name)),
                            ("UPNSuffix", Some(&p.suffix)),
                            ("AadUserId", u.object_id.as_ref()),
                        ],
                    ),
                    None => mapping(
                        "Account",
                        &[
                            ("FullName", u.upn.as_ref()),
                            ("AadUserId", u.object_id.as_ref()),
                        ],
                    ),
                });
                let group = ids
                    .group
                    .as_ref()
                    .and_then(|g| mapping("SecurityGroup", &[("ObjectGuid", Some(&g.object_id))]));
                let application = ids.application.as_ref().and_then(|a| {
                    mapping(
                        "CloudApplication",
                        &[("AppId", a.app_id.as_ref()), ("Name", a.name.as_ref())],
                    )
                });
                user.into_iter().chain(group).chain(application).collect()
            }
            // A field that says nothing more of the principal: its value as the account's name.
            None => single("Account", "FullName"),
        },
        "ip" => single("IP", "Address"),
        "resource" => single("AzureResource", "ResourceId"),
        // Sentinel has no role entity; the role is a custom detail.
        _ => Vec::new(),
    }
}

/// The entity mappings of a detection whose query outputs `outputs`, within Sentinel's limit,
/// and the mappings left out for it.
pub(crate) fn entity_mappings(
    detection: &Detection,
    outputs: &[&str],
) -> (Vec<EntityMapping>, Vec<EntityMapping>) {
    let per_entity: Vec<Vec<EntityMapping>> = detection
        .meta
        .entities
        .slots()
        .into_iter()
        .filter_map(|(slot, column)| Some((slot, column?)))
        .filter(|(_, column)| outputs.contains(column))
        .map(|(slot, column)| {
            let mut mappings = mappings_of(slot, column, detection.identities_of(slot), outputs);
            // A column the query does not output cannot be mapped.
            for m in &mut mappings {
                m.mappings.retain(|f| outputs.contains(&f.column.as_str()));
            }
            mappings.retain(|m| !m.mappings.is_empty());
            mappings
        })
        .collect();
    // Round robin: every entity's first mapping, then every second one, and so on.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut left_out = Vec::new();
    let depth = per_entity.iter().map(Vec::len).max().unwrap_or(0);
    for rank in 0..depth {
        for (entity, mappings) in per_entity.iter().enumerate() {
            if let Some(m) = mappings.get(rank) {
                if kept.len() < MAX_ENTITY_MAPPINGS {
                    kept.push((entity, rank));
                } else {
                    left_out.push(m.clone());
                }
            }
        }
    }
    kept.sort_unstable();
    let kept = kept
        .into_iter()
        .map(|(entity, rank)| per_entity[entity][rank].clone())
        .collect();
    (kept, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::logsource::{ApplicationIdentity, GroupIdentity, UserIdentity};

    fn names(mappings: &[EntityMapping]) -> Vec<String> {
        mappings
            .iter()
            .map(|m| {
                let fields: Vec<String> = m
                    .mappings
                    .iter()
                    .map(|f| format!("{}={}", f.identifier, f.column))
                    .collect();
                format!("{}[{}]", m.entity_type, fields.join(","))
            })
            .collect()
    }

    #[test]
    fn a_principal_is_mapped_by_its_strong_identifiers_per_kind() {
        let ids = Identities {
            user: Some(UserIdentity {
                upn: Some("TargetUserUpn".into()),
                object_id: Some("TargetUserId".into()),
            }),
            group: Some(GroupIdentity {
                object_id: "TargetGroupId".into(),
                name: Some("GroupName".into()),
            }),
            application: Some(ApplicationIdentity {
                app_id: None,
                name: Some("TargetSpName".into()),
                object_id: Some("TargetSpId".into()),
            }),
        };
        let split = ["TargetUserName", "TargetUserUpnSuffix"];
        assert_eq!(
            names(&mappings_of(
                "target_user",
                "TargetName",
                Some(&ids),
                &split
            )),
            [
                "Account[Name=TargetUserName,UPNSuffix=TargetUserUpnSuffix,AadUserId=TargetUserId]",
                "SecurityGroup[ObjectGuid=TargetGroupId]",
                "CloudApplication[Name=TargetSpName]",
            ]
        );
        // When the query has no columns of the UPN's parts, the UPN itself names the account.
        assert_eq!(
            names(&mappings_of("target_user", "TargetName", Some(&ids), &[]))[0],
            "Account[FullName=TargetUserUpn,AadUserId=TargetUserId]"
        );
        // Without identifiers the field itself names the account.
        assert_eq!(
            names(&mappings_of("actor", "Caller", None, &[])),
            ["Account[FullName=Caller]"]
        );
        assert_eq!(
            names(&mappings_of("ip", "Ip", None, &[])),
            ["IP[Address=Ip]"]
        );
        assert!(mappings_of("role", "RoleName", None, &[]).is_empty());
    }
}
