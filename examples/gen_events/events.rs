//! Synthetic but realistic Entra audit and Azure activity rows, in the Log Analytics row shape,
//! for benchmarks: mostly routine tenant activity, with a few attacks at fixed places.
//!
//! The file is meant to be read by anything (rulecast, pySigma, a SIEM), so this module depends
//! on nothing but the standard library, and the same seed always writes the same bytes.
//!
//! Routine activity: user and group changes, application updates, PIM activations with the
//! directory write PIM makes for each (and their expiry), single eligible assignments of
//! ordinary roles, hardening of role settings, resolved PIM alerts, and Azure resource writes
//! (Start and Success records) with the occasional Reader or Contributor assignment. Every
//! tenth of the file holds one set of attacks: a burst of four eligible assignments by one
//! admin within half an hour (two of them Global Administrator), Global Administrator assigned
//! directly in the directory, Owner assigned through ARM, MFA on activation disabled for
//! Global Administrator, elevate access, and PIM's stale-accounts alert.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

const TENANT: &str = "7f3c9a10-4b2e-4d6f-9a81-2c5e0b7d4e19";
const SUBSCRIPTION: &str = "4f1b7c2e-9d3a-4c58-8e61-0a2b3c4d5e6f";
/// 2025-06-01T00:00:00Z, in milliseconds.
const START_MS: u64 = 1_748_736_000_000;
/// The file covers a week, whatever its size.
const SPAN_MS: u64 = 7 * 24 * 3600 * 1000;

const ROUTINE_ROLES: [(&str, &str); 6] = [
    (
        "Helpdesk Administrator",
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    ),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1"),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509"),
    (
        "Exchange Administrator",
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
    ),
    (
        "SharePoint Administrator",
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    ),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451"),
];
const GLOBAL_ADMIN: (&str, &str) = (
    "Global Administrator",
    "62e90394-69f5-4237-9190-012177145e10",
);
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const USERS: u64 = 5000;
const ADMINS: u64 = 40;

/// What was written.
pub(crate) struct Generated {
    pub events: u64,
    pub bytes: u64,
    /// Attack name and how many were planted.
    pub attacks: Vec<(&'static str, u64)>,
}

/// xorshift64*: fast, deterministic, good enough for picking events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
    fn ip(&mut self) -> String {
        let nets = ["203.0.113", "198.51.100", "192.0.2"];
        format!("{}.{}", nets[self.below(3) as usize], 1 + self.below(250))
    }
}

/// ISO 8601 with Log Analytics' seven fraction digits.
fn timestamp(ms: u64) -> String {
    let (days, of_day) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}0000Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        of_day % 1000
    )
}

struct Person {
    name: String,
    upn: String,
    id: String,
}

fn person(kind: &str, number: u64) -> Person {
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        number * 2_654_435_761 % 0xffff_ffff,
        number % 0xffff,
        number % 0xfff,
        (number * 7) % 0xfff,
        number * 97
    );
    Person {
        name: format!(
            "{} {number:04}",
            if kind == "admin" { "Admin" } else { "User" }
        ),
        upn: format!("{kind}{number:04}@contoso.example"),
        id,
    }
}

/// One audit row's variable parts.
struct Audit<'a> {
    time: &'a str,
    activity: &'a str,
    category: &'a str,
    service: &'a str,
    operation_type: &'a str,
    result: &'a str,
    reason: &'a str,
    identity: &'a str,
    initiated_by: String,
    targets: String,
    details: String,
    id_prefix: &'a str,
}

fn user_initiator(p: &Person, ip: &str) -> String {
    format!(
        r#"{{"user":{{"id":"{}","displayName":null,"userPrincipalName":"{}","ipAddress":"{ip}","roles":[]}}}}"#,
        p.id, p.upn
    )
}

const PIM_INITIATOR: &str = r#"{"app":{"appId":null,"displayName":"MS-PIM","servicePrincipalId":"bdefcbb6-5f1a-4c2d-9e3f-40516273a8b9","servicePrincipalName":null}}"#;

fn user_target(p: &Person, properties: &str) -> String {
    format!(
        r#"{{"id":"{}","displayName":"{}","type":"User","userPrincipalName":"{}","modifiedProperties":[{properties}],"administrativeUnits":[]}}"#,
        p.id, p.name, p.upn
    )
}

fn role_target((name, id): (&str, &str)) -> String {
    format!(
        r#"{{"id":"{id}","displayName":"{name}","type":"Role","modifiedProperties":[],"administrativeUnits":[]}}"#
    )
}

fn pim_targets(rng: &mut Rng, role: (&str, &str), who: &Person) -> String {
    format!(
        r#"[{},{{"id":"{}","type":"Request","modifiedProperties":[]}},{},{{"id":"{TENANT}","displayName":"Contoso","type":"Directory","modifiedProperties":[]}}]"#,
        role_target(role),
        rng.guid(),
        user_target(who, "")
    )
}

/// The principal of a Core Directory role change, with the role in its modified properties.
fn directory_role_targets(rng: &mut Rng, role: (&str, &str), who: &Person, side: &str) -> String {
    let other = if side == "newValue" {
        "oldValue"
    } else {
        "newValue"
    };
    let properties = format!(
        r#"{{"displayName":"Role.ObjectID","{side}":"\"{}\"","{other}":null}},{{"displayName":"Role.DisplayName","{side}":"\"{}\"","{other}":null}},{{"displayName":"Role.TemplateId","{side}":"\"{}\"","{other}":null}},{{"displayName":"Role.WellKnownObjectName","{side}":"\"{}\"","{other}":null}}"#,
        rng.guid(),
        role.0,
        role.1,
        role.0.replace(' ', "")
    );
    format!("[{}]", user_target(who, &properties))
}

fn write_audit(line: &mut String, rng: &mut Rng, a: &Audit) {
    let _ = write!(
        line,
        r#"{{"TenantId":"{TENANT}","SourceSystem":"Azure AD","TimeGenerated":"{time}","ResourceId":"/tenants/{TENANT}/providers/Microsoft.aadiam","OperationName":"{activity}","OperationVersion":"1.0","Category":"{category}","ResultType":"","ResultSignature":"None","ResultDescription":"{reason}","DurationMs":0,"CorrelationId":"{correlation}","Resource":"Microsoft.aadiam","ResourceGroup":"Microsoft.aadiam","ResourceProvider":"","Identity":"{identity}","Level":"4","Location":"","AdditionalDetails":{details},"Id":"{prefix}{id}","InitiatedBy":{initiated_by},"LoggedByService":"{service}","Result":"{result}","ResultReason":"{reason}","TargetResources":{targets},"AADTenantId":"{TENANT}","ActivityDisplayName":"{activity}","ActivityDateTime":"{time}","AADOperationType":"{operation_type}","Type":"AuditLogs"}}"#,
        time = a.time,
        activity = a.activity,
        category = a.category,
        reason = a.reason,
        correlation = rng.guid(),
        identity = a.identity,
        details = a.details,
        prefix = a.id_prefix,
        id = rng.guid(),
        initiated_by = a.initiated_by,
        service = a.service,
        result = a.result,
        targets = a.targets,
        operation_type = a.operation_type,
    );
    line.push('\n');
}

#[allow(clippy::too_many_arguments)]
fn write_activity(
    line: &mut String,
    rng: &mut Rng,
    time: &str,
    operation: &str,
    name: &str,
    status: &str,
    caller: &Person,
    ip: &str,
    resource: &str,
    body: Option<&str>,
) {
    let correlation = rng.guid();
    let request = body
        .map(|b| format!(r#","requestbody":"{}""#, b.replace('"', "\\\"")))
        .unwrap_or_default();
    let _ = write!(
        line,
        r#"{{"TenantId":"{TENANT}","SourceSystem":"Azure","CallerIpAddress":"{ip}","CategoryValue":"Administrative","CorrelationId":"{correlation}","Authorization_d":{{"action":"{lower_op}","scope":"{lower_resource}"}},"Claims_d":{{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"{upn}","ipaddr":"{ip}"}},"Level":"Informational","OperationNameValue":"{upper_op}","Properties_d":{{"eventCategory":"Administrative","entity":"{lower_resource}","message":"{lower_op}","statusCode":"{code}"{request}}},"Caller":"{upn}","EventDataId":"{event_data}","EventSubmissionTimestamp":"{time}","OperationId":"{operation_id}","ResourceGroup":"RG-PROD","ResourceProviderValue":"{provider}","ActivityStatusValue":"{status}","ActivitySubstatusValue":"{code}","Hierarchy":"{TENANT}/{SUBSCRIPTION}","TimeGenerated":"{time}","SubscriptionId":"{SUBSCRIPTION}","OperationName":"{name}","ActivityStatus":"{status}","ActivitySubstatus":"","Category":"Administrative","ResourceId":"{upper_resource}","ResourceProvider":"{provider}","Resource":"","Type":"AzureActivity"}}"#,
        lower_op = operation.to_lowercase(),
        upper_op = operation.to_uppercase(),
        lower_resource = resource.to_lowercase(),
        upper_resource = resource.to_uppercase(),
        upn = caller.upn,
        code = if status == "Start" { "" } else { "OK" },
        event_data = rng.guid(),
        operation_id = rng.guid(),
        provider = operation
            .split('/')
            .next()
            .unwrap_or_default()
            .to_uppercase(),
    );
    line.push('\n');
}

/// Writes `count` events (one JSON object per line) from `seed`.
pub(crate) fn write_events(out: &mut dyn Write, count: u64, seed: u64) -> io::Result<Generated> {
    let mut rng = Rng(seed.max(1));
    let mut line = String::with_capacity(8192);
    let mut bytes = 0u64;
    let step = (SPAN_MS / count.max(1)).max(1);
    let mut now = START_MS;
    // Attack events waiting for their place in the file: index -> kind.
    let mut planted: BTreeMap<u64, &'static str> = BTreeMap::new();
    // Attack events are placed by time (minutes after the set starts), so a burst stays a
    // burst whatever the file's size.
    let plan = [
        (0, "burst"),
        (8, "burst_ga"),
        (16, "burst"),
        (24, "burst_ga"),
        (30, "direct_ga"),
        (35, "arm_owner"),
        (40, "mfa_disabled"),
        (45, "elevate"),
        (50, "stale_alert"),
    ];
    let events_per_minute = (60_000 / step).max(1);
    let every = (count / 10).max(1);
    for set in 0..10 {
        let mut at = set * every + every / 2;
        for (minute, kind) in plan {
            at = at.max(set * every + every / 2 + minute * events_per_minute);
            if at < count {
                planted.insert(at, kind);
            }
            at += 1;
        }
    }
    let mut attacks: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut index = 0;
    while index < count {
        line.clear();
        now += rng.below(2 * step + 1);
        let time = timestamp(now);
        // A routine pair of rows may step over an attack's place; it then comes right after.
        let due = planted
            .first_key_value()
            .filter(|(at, _)| **at <= index)
            .map(|(at, kind)| (*at, *kind));
        match due {
            Some((at, kind)) => {
                planted.remove(&at);
                *attacks.entry(kind).or_default() += 1;
                attack(&mut line, &mut rng, kind, &time, at / every);
            }
            None => routine(&mut line, &mut rng, &time, now),
        }
        index += line.matches('\n').count() as u64;
        out.write_all(line.as_bytes())?;
        bytes += line.len() as u64;
    }
    let sets = attacks.get("direct_ga").copied().unwrap_or(0);
    let attacks = vec![
        ("eligible-assignment burst (4 within 24 minutes)", sets),
        (
            "Global Administrator made eligible",
            attacks.get("burst_ga").copied().unwrap_or(0),
        ),
        ("Global Administrator assigned outside PIM", sets),
        (
            "Owner assigned through ARM",
            attacks.get("arm_owner").copied().unwrap_or(0),
        ),
        (
            "MFA on activation disabled for Global Administrator",
            attacks.get("mfa_disabled").copied().unwrap_or(0),
        ),
        (
            "elevate access",
            attacks.get("elevate").copied().unwrap_or(0),
        ),
        (
            "PIM stale-accounts alert",
            attacks.get("stale_alert").copied().unwrap_or(0),
        ),
    ];
    Ok(Generated {
        events: index,
        bytes,
        attacks,
    })
}

fn attack(line: &mut String, rng: &mut Rng, kind: &str, time: &str, set: u64) {
    let attacker = person("admin", 90 + set);
    let ip = format!("45.67.89.{}", 10 + set);
    let victim = person("user", rng.below(USERS));
    let mut audit = |activity: &str,
                     category: &str,
                     service: &str,
                     operation_type: &str,
                     reason: &str,
                     identity: &str,
                     initiated_by: String,
                     targets: String,
                     details: String,
                     prefix: &str| {
        write_audit(
            line,
            rng,
            &Audit {
                time,
                activity,
                category,
                service,
                operation_type,
                result: "success",
                reason,
                identity,
                initiated_by,
                targets,
                details,
                id_prefix: prefix,
            },
        );
    };
    let details = format!(r#"[{{"key":"ipaddr","value":"{ip}"}}]"#);
    match kind {
        "burst" | "burst_ga" => {
            let mut inner = Rng(set + 7);
            let role = if kind == "burst_ga" {
                GLOBAL_ADMIN
            } else {
                ROUTINE_ROLES[1]
            };
            let targets = pim_targets(&mut inner, role, &victim);
            audit(
                "Add eligible member to role in PIM completed (permanent)",
                "RoleManagement",
                "PIM",
                "CreateRequestPermanentEligibleRole",
                "",
                &attacker.name,
                user_initiator(&attacker, &ip),
                targets,
                details,
                "PIM_",
            );
        }
        "direct_ga" => {
            let mut inner = Rng(set + 11);
            let targets = directory_role_targets(&mut inner, GLOBAL_ADMIN, &victim, "newValue");
            audit(
                "Add member to role",
                "RoleManagement",
                "Core Directory",
                "Assign",
                "",
                &attacker.name,
                user_initiator(&attacker, &ip),
                targets,
                "[]".into(),
                "Directory_",
            );
        }
        "mfa_disabled" => audit(
            "Update role setting in PIM",
            "RoleManagement",
            "PIM",
            "Update",
            "Setting changes in this session: MFA on activation requirement disabled. Approval disabled.",
            &attacker.name,
            user_initiator(&attacker, &ip),
            format!("[{}]", role_target(GLOBAL_ADMIN)),
            format!(
                r#"[{{"key":"AuditType","value":"UpdatePolicy"}},{{"key":"ipaddr","value":"{ip}"}}]"#
            ),
            "PIM_",
        ),
        "elevate" => audit(
            "User has elevated their access to User Access Administrator for their Azure Resources",
            "AzureRBACRoleManagementElevateAccess",
            "Azure RBAC (Elevated Access)",
            "Assign",
            "",
            &attacker.name,
            user_initiator(&attacker, &ip),
            format!("[{}]", user_target(&attacker, "")),
            "[]".into(),
            "Directory_",
        ),
        "stale_alert" => audit(
            "Triggered PIM alert",
            "RoleManagement",
            "PIM",
            "Update",
            "",
            "MS-PIM",
            PIM_INITIATOR.to_owned(),
            format!(
                r#"[{{"id":"DirectoryRole_{TENANT}_StaleSignInAlert","displayName":"Potential stale accounts in a privileged role","type":"Other","modifiedProperties":[]}}]"#
            ),
            "[]".into(),
            "PIM_",
        ),
        _ => {
            let assignment = rng.guid();
            let resource = format!(
                "/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleAssignments/{assignment}"
            );
            let body = format!(
                r#"{{"Id":"{assignment}","Properties":{{"PrincipalId":"{}","PrincipalType":"User","RoleDefinitionId":"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}","Scope":"/subscriptions/{SUBSCRIPTION}"}}}}"#,
                victim.id
            );
            write_activity(
                line,
                rng,
                time,
                "Microsoft.Authorization/roleAssignments/write",
                "Create role assignment",
                "Success",
                &attacker,
                &ip,
                &resource,
                Some(&body),
            );
        }
    }
}

fn routine(line: &mut String, rng: &mut Rng, time: &str, now: u64) {
    let roll = rng.below(1000);
    let user = person("user", rng.below(USERS));
    let admin = person("admin", rng.below(ADMINS));
    let ip = rng.ip();
    let ip_details = format!(r#"[{{"key":"ipaddr","value":"{ip}"}}]"#);
    let as_admin = user_initiator(&admin, &ip);
    macro_rules! audit {
        ($activity:expr, $category:expr, $service:expr, $op:expr, $reason:expr, $identity:expr, $by:expr, $targets:expr, $details:expr, $prefix:expr) => {{
            let targets = $targets;
            write_audit(
                line,
                rng,
                &Audit {
                    time,
                    activity: $activity,
                    category: $category,
                    service: $service,
                    operation_type: $op,
                    result: "success",
                    reason: $reason,
                    identity: $identity,
                    initiated_by: $by,
                    targets,
                    details: $details,
                    id_prefix: $prefix,
                },
            )
        }};
    }
    match roll {
        0..=259 => {
            let property = r#"{"displayName":"Included Updated Properties","oldValue":null,"newValue":"\"StreetAddress, TelephoneNumber\""},{"displayName":"TargetId.UserType","oldValue":null,"newValue":"\"Member\""}"#;
            audit!(
                "Update user",
                "UserManagement",
                "Core Directory",
                "Update",
                "",
                &admin.name,
                as_admin,
                format!("[{}]", user_target(&user, property)),
                ip_details,
                "Directory_"
            );
        }
        260..=439 => {
            let activity = if roll < 380 {
                "Add member to group"
            } else {
                "Remove member from group"
            };
            let group = format!(
                r#"{{"id":"{}","displayName":"SG-Team-{:03}","type":"Group","modifiedProperties":[]}}"#,
                rng.guid(),
                rng.below(400)
            );
            let targets = format!("[{},{group}]", user_target(&user, ""));
            audit!(
                activity,
                "GroupManagement",
                "Core Directory",
                if roll < 380 { "Assign" } else { "Unassign" },
                "",
                &admin.name,
                as_admin,
                targets,
                "[]".into(),
                "Directory_"
            );
        }
        440..=559 => {
            let app = format!(
                r#"[{{"id":"{}","displayName":"contoso-app-{:03}","type":"Application","modifiedProperties":[{{"displayName":"AppAddress","oldValue":null,"newValue":"[{{\"AddressType\":0,\"Address\":\"https://app.contoso.example/signin\"}}]"}}]}}]"#,
                rng.guid(),
                rng.below(300)
            );
            audit!(
                "Update application",
                "ApplicationManagement",
                "Core Directory",
                "Update",
                "",
                &admin.name,
                as_admin,
                app,
                "[]".into(),
                "Directory_"
            );
        }
        560..=619 => {
            let device = format!(
                r#"[{{"id":"{}","displayName":"LAPTOP-{:05}","type":"Device","modifiedProperties":[]}}]"#,
                rng.guid(),
                rng.below(90_000)
            );
            audit!("Update device", "Device", "Core Directory", "Update", "", "Device Registration Service", r#"{"app":{"appId":null,"displayName":"Device Registration Service","servicePrincipalId":"7d8a2b1c-0e4f-4a6b-9c3d-2e1f0a9b8c7d"}}"#.to_owned(), device, "[]".into(), "Directory_");
        }
        620..=634 => {
            // An activation, then PIM's write of it to the directory.
            let role = ROUTINE_ROLES[rng.below(ROUTINE_ROLES.len() as u64) as usize];
            let activator = person("user", rng.below(USERS));
            let targets = pim_targets(rng, role, &activator);
            audit!(
                "Add member to role completed (PIM activation)",
                "RoleManagement",
                "PIM",
                "ActivateRole",
                "Ticket HD-4711",
                &activator.name,
                user_initiator(&activator, &ip),
                targets,
                ip_details,
                "PIM_"
            );
            let targets = directory_role_targets(rng, role, &activator, "newValue");
            audit!(
                "Add member to role",
                "RoleManagement",
                "Core Directory",
                "Assign",
                "",
                "MS-PIM",
                PIM_INITIATOR.to_owned(),
                targets,
                "[]".into(),
                "Directory_"
            );
        }
        635..=644 => {
            let role = ROUTINE_ROLES[rng.below(ROUTINE_ROLES.len() as u64) as usize];
            let targets = pim_targets(rng, role, &user);
            audit!("Remove member from role (PIM activation expired)", "RoleManagement", "PIM", "Delete", "", "Azure AD PIM", r#"{"user":{"id":null,"displayName":"Azure AD PIM","userPrincipalName":null,"ipAddress":null}}"#.to_owned(), targets, "[]".into(), "PIM_");
            let targets = directory_role_targets(rng, role, &user, "oldValue");
            audit!(
                "Remove member from role",
                "RoleManagement",
                "Core Directory",
                "Unassign",
                "",
                "MS-PIM",
                PIM_INITIATOR.to_owned(),
                targets,
                "[]".into(),
                "Directory_"
            );
        }
        645 => {
            let role = ROUTINE_ROLES[rng.below(ROUTINE_ROLES.len() as u64) as usize];
            let targets = pim_targets(rng, role, &user);
            audit!(
                "Add eligible member to role in PIM completed (timebound)",
                "RoleManagement",
                "PIM",
                "CreateRequestEligibleRole",
                "Joiner process",
                &admin.name,
                as_admin,
                targets,
                ip_details,
                "PIM_"
            );
        }
        650..=651 => {
            let role = ROUTINE_ROLES[rng.below(ROUTINE_ROLES.len() as u64) as usize];
            audit!(
                "Update role setting in PIM",
                "RoleManagement",
                "PIM",
                "Update",
                "Setting changes in this session: MFA on activation requirement enabled. Maximum activation duration updated to 04:00:00.",
                &admin.name,
                as_admin,
                format!("[{}]", role_target(role)),
                r#"[{"key":"AuditType","value":"UpdatePolicy"}]"#.to_owned(),
                "PIM_"
            );
        }
        652..=653 => {
            let alert = format!(
                r#"[{{"id":"DirectoryRole_{TENANT}_RedundantAssignmentAlert","displayName":"Administrators aren't using their privileged roles","type":"Other","modifiedProperties":[]}}]"#
            );
            audit!(
                "Resolve PIM alert",
                "RoleManagement",
                "PIM",
                "Update",
                "",
                &admin.name,
                as_admin,
                alert,
                "[]".into(),
                "PIM_"
            );
        }
        654..=657 => {
            let role = if rng.below(2) == 0 {
                READER
            } else {
                CONTRIBUTOR
            };
            let assignment = rng.guid();
            let resource = format!(
                "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod/providers/Microsoft.Authorization/roleAssignments/{assignment}"
            );
            let body = format!(
                r#"{{"Id":"{assignment}","Properties":{{"PrincipalId":"{}","PrincipalType":"User","RoleDefinitionId":"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}","Scope":"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod"}}}}"#,
                user.id
            );
            write_activity(
                line,
                rng,
                time,
                "Microsoft.Authorization/roleAssignments/write",
                "Create role assignment",
                "Success",
                &admin,
                &ip,
                &resource,
                Some(&body),
            );
        }
        _ => {
            let (operation, name) = [
                ("Microsoft.Web/sites/write", "Create or Update Web App"),
                (
                    "Microsoft.Storage/storageAccounts/write",
                    "Create/Update Storage Account",
                ),
                (
                    "Microsoft.Compute/virtualMachines/start/action",
                    "Start Virtual Machine",
                ),
                (
                    "Microsoft.Network/networkSecurityGroups/write",
                    "Create or Update Network Security Group",
                ),
            ][rng.below(4) as usize];
            let resource = format!(
                "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod/providers/{}/res-{:04}",
                operation.rsplit_once('/').map_or(operation, |x| x.0),
                now % 9973
            );
            let status = if rng.below(2) == 0 {
                "Start"
            } else {
                "Success"
            };
            write_activity(
                line, rng, time, operation, name, status, &admin, &ip, &resource, None,
            );
        }
    }
}
