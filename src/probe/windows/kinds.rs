//! The Windows kinds, each a script leaving `$r` and a reader of its JSON.

use serde_json::Value;

use super::{WinKind, accounts, boolean, items, number, ps_quote, required, strings, text};
use crate::expect::{Fact, Shape};
use crate::probe::{Facts, Param, Query};

fn subject(q: &Query) -> String {
    ps_quote(q.subject)
}

fn facts<const N: usize>(list: [(&'static str, Fact); N]) -> Facts {
    list.into_iter().collect()
}

/// The parent of a distinguished name: the OU (or container) an object is in.
fn parent_dn(dn: &str) -> String {
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            '\\' => escaped = !escaped,
            ',' if !escaped => return dn[i + 1..].to_string(),
            _ => escaped = false,
        }
    }
    String::new()
}

// ---- service ----------------------------------------------------------------------------

const SERVICE_PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "a service of that name (not display name) exists",
    ),
    Param::expect("running", Shape::Bool, "its status is Running"),
    Param::expect("enabled", Shape::Bool, "its start type is Automatic"),
    Param::expect(
        "start",
        Shape::Text,
        "its start type: boot, system, automatic, manual or disabled",
    ),
];

pub static SERVICE: WinKind = WinKind {
    name: "service",
    subject: "a service name",
    doc: "A Windows service, by its name (W32Time, not its localized display name): whether it exists, runs, and starts automatically.",
    params: SERVICE_PARAMS,
    presence: Some("exists"),
    needs: "Get-Service",
    script: |q| {
        format!(
            "$r = Get-Service -Name {} -ErrorAction SilentlyContinue | Select-Object Name,DisplayName,Status,StartType\n",
            subject(q)
        )
    },
    read: |_, v| {
        let status = required(number(v, "Status"), "Status")?;
        let start = required(number(v, "StartType"), "StartType")?;
        // ServiceControllerStatus.Running = 4; ServiceStartMode: Boot 0 ... Disabled 4.
        let start_name = ["boot", "system", "automatic", "manual", "disabled"]
            .get(start as usize)
            .copied()
            .unwrap_or("unknown");
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("running", Fact::Bool(status == 4.0)),
            ("enabled", Fact::Bool(start == 2.0)),
            ("start", Fact::Text(start_name.to_string())),
        ]))
    },
};

// ---- user (local) -----------------------------------------------------------------------

const USER_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "a local account of that name exists"),
    Param::expect("enabled", Shape::Bool, "the account is enabled"),
    Param::expect(
        "groups",
        Shape::List,
        "the local groups it belongs to, each by name and by SID (S-1-5-32-544 is Administrators in every language)",
    ),
];

pub static USER: WinKind = WinKind {
    name: "user",
    subject: "a local account name",
    doc: "A local account of a Windows server (not a domain controller: see `ad_user`): whether it exists, is enabled, and its local groups.",
    params: USER_PARAMS,
    presence: Some("exists"),
    needs: "Get-LocalUser",
    script: |q| {
        format!(
            "$u = Get-LocalUser -Name {} -ErrorAction SilentlyContinue\n\
             $r = $null\n\
             if ($u) {{\n\
             \x20 $g = @(Get-LocalGroup | Where-Object {{ @(Get-LocalGroupMember -SID $_.SID -ErrorAction SilentlyContinue | Where-Object {{ $_.SID -eq $u.SID }}).Count -gt 0 }} | ForEach-Object {{ [pscustomobject]@{{ Name = $_.Name; SID = $_.SID.Value }} }})\n\
             \x20 $r = [pscustomobject]@{{ Name = $u.Name; SID = $u.SID.Value; Enabled = $u.Enabled; Groups = $g }}\n\
             }}\n",
            subject(q)
        )
    },
    read: |_, v| {
        Ok(facts([
            ("exists", Fact::Bool(true)),
            (
                "enabled",
                Fact::Bool(required(boolean(v, "Enabled"), "Enabled")?),
            ),
            (
                "groups",
                Fact::List(accounts(&items(v, "Groups"), |_| Some(String::new()))),
            ),
        ]))
    },
};

// ---- group (local) ----------------------------------------------------------------------

const GROUP_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the local group exists"),
    Param::expect(
        "members",
        Shape::List,
        "its members, each by name (without its domain) and by SID",
    ),
];

pub static GROUP: WinKind = WinKind {
    name: "group",
    subject: "a local group name or SID",
    doc: "A local group of a Windows server, by name or by SID (S-1-5-32-544 finds Administrators on a server of any language): its members.",
    params: GROUP_PARAMS,
    presence: Some("exists"),
    needs: "Get-LocalGroup",
    script: |q| {
        let by = if q.subject.starts_with("S-1-") {
            "SID"
        } else {
            "Name"
        };
        format!(
            "$g = Get-LocalGroup -{by} {} -ErrorAction SilentlyContinue\n\
             $r = $null\n\
             if ($g) {{ $r = [pscustomobject]@{{ Name = $g.Name; SID = $g.SID.Value; Members = @(Get-LocalGroupMember -SID $g.SID | ForEach-Object {{ [pscustomobject]@{{ Name = $_.Name; SID = $_.SID.Value }} }}) }} }}\n",
            subject(q)
        )
    },
    read: |_, v| {
        Ok(facts([
            ("exists", Fact::Bool(true)),
            (
                "members",
                Fact::List(accounts(&items(v, "Members"), |_| Some(String::new()))),
            ),
        ]))
    },
};

// ---- file (with ACL) --------------------------------------------------------------------

const FILE_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "the path exists"),
    Param::expect("directory", Shape::Bool, "it is a directory"),
    Param::expect("owner", Shape::Text, "its owner's SID"),
    Param::expect(
        "allows",
        Shape::List,
        "its Allow entries as ACCOUNT:RIGHT, the account by name and by SID, RIGHT one of full, modify, read_execute, read, write (the widest the entry grants)",
    ),
    Param::expect(
        "denies",
        Shape::List,
        "its Deny entries, written as `allows`",
    ),
    Param::expect(
        "inherits",
        Shape::Bool,
        "it inherits its parent's entries (inheritance not disabled)",
    ),
];

/// FileSystemRights masks, widest first.
const RIGHTS: &[(u64, &str)] = &[
    (2_032_127, "full"),
    (1_245_631, "modify"),
    (1_179_817, "read_execute"),
    (1_179_785, "read"),
    (278, "write"),
];

fn right_name(mask: u64) -> String {
    RIGHTS
        .iter()
        .find(|(bits, _)| mask & bits == *bits)
        .map_or_else(|| format!("0x{mask:x}"), |(_, name)| name.to_string())
}

pub static FILE: WinKind = WinKind {
    name: "file",
    subject: "a path",
    doc: "A file or folder of a Windows server and its NTFS permissions (entries read as SIDs and rights masks, not localized names).",
    params: FILE_PARAMS,
    presence: Some("exists"),
    needs: "Get-Acl",
    script: |q| {
        format!(
            "$p = {}\n\
             $r = $null\n\
             if (Test-Path -LiteralPath $p) {{\n\
             \x20 $i = Get-Item -LiteralPath $p -Force\n\
             \x20 $a = Get-Acl -LiteralPath $p\n\
             \x20 $sid = {{ param($n) try {{ $n.Translate([System.Security.Principal.SecurityIdentifier]).Value }} catch {{ $null }} }}\n\
             \x20 $r = [pscustomobject]@{{ Directory = $i.PSIsContainer; Owner = (& $sid ([System.Security.Principal.NTAccount]$a.Owner)); Protected = $a.AreAccessRulesProtected; Access = @($a.Access | ForEach-Object {{ [pscustomobject]@{{ Name = $_.IdentityReference.Value; SID = (& $sid $_.IdentityReference); Rights = [int64]$_.FileSystemRights; Type = [int]$_.AccessControlType; Inherited = $_.IsInherited }} }}) }}\n\
             }}\n",
            subject(q)
        )
    },
    read: |_, v| {
        let entries = items(v, "Access");
        // AccessControlType: Allow 0, Deny 1.
        let of_type = |kind: u64| {
            move |e: &Value| {
                (number(e, "Type")? as u64 == kind)
                    .then(|| format!(":{}", right_name(number(e, "Rights").unwrap_or(0.0) as u64)))
            }
        };
        Ok(facts([
            ("exists", Fact::Bool(true)),
            (
                "directory",
                Fact::Bool(required(boolean(v, "Directory"), "Directory")?),
            ),
            ("owner", Fact::Text(text(v, "Owner").unwrap_or_default())),
            ("allows", Fact::List(accounts(&entries, of_type(0)))),
            ("denies", Fact::List(accounts(&entries, of_type(1)))),
            (
                "inherits",
                Fact::Bool(!required(boolean(v, "Protected"), "Protected")?),
            ),
        ]))
    },
};

// ---- package: a Windows feature --------------------------------------------------------

const PACKAGE_PARAMS: &[Param] = &[Param::expect(
    "installed",
    Shape::Bool,
    "the role or feature is installed",
)];

pub static PACKAGE: WinKind = WinKind {
    name: "package",
    subject: "a Windows feature name",
    doc: "A Windows Server role or feature by its name (DHCP, AD-Domain-Services, FS-Resource-Manager): whether it is installed.",
    params: PACKAGE_PARAMS,
    presence: Some("installed"),
    needs: "Get-WindowsFeature",
    script: |q| {
        format!(
            "$r = Get-WindowsFeature -Name {} | Select-Object Name,InstallState\n",
            subject(q)
        )
    },
    // InstallState: Available 0, Installed 1, InstallPending 2, Removed 3.
    read: |_, v| {
        let state = required(number(v, "InstallState"), "InstallState")?;
        Ok(facts([("installed", Fact::Bool(state == 1.0))]))
    },
};

// ---- port -------------------------------------------------------------------------------

const PORT_PARAMS: &[Param] = &[
    Param::expect(
        "listening",
        Shape::Bool,
        "something listens on that TCP port",
    ),
    Param::expect(
        "addresses",
        Shape::List,
        "the local addresses it listens on (0.0.0.0 and :: are all)",
    ),
    Param::expect(
        "process",
        Shape::List,
        "the names of the processes that listen",
    ),
];

pub static PORT: WinKind = WinKind {
    name: "port",
    subject: "a TCP port number",
    doc: "A TCP port of a Windows server: whether something listens, on which addresses, and which process.",
    params: PORT_PARAMS,
    presence: Some("listening"),
    needs: "Get-NetTCPConnection",
    script: |q| {
        format!(
            "$r = @(Get-NetTCPConnection -LocalPort {} -State Listen -ErrorAction SilentlyContinue | ForEach-Object {{ [pscustomobject]@{{ LocalAddress = $_.LocalAddress; Process = (Get-Process -Id $_.OwningProcess).ProcessName }} }})\n",
            subject(q)
        )
    },
    read: |_, v| {
        let list = match v {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        let mut process: Vec<String> = list.iter().filter_map(|e| text(e, "Process")).collect();
        process.dedup();
        Ok(facts([
            ("listening", Fact::Bool(!list.is_empty())),
            (
                "addresses",
                Fact::List(
                    list.iter()
                        .filter_map(|e| text(e, "LocalAddress"))
                        .collect(),
                ),
            ),
            ("process", Fact::List(process)),
        ]))
    },
};

// ---- firewall rule ----------------------------------------------------------------------

const FIREWALL_PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "a rule of that name, or of that display name, exists",
    ),
    Param::expect("enabled", Shape::Bool, "the rule is enabled"),
    Param::expect("direction", Shape::Text, "in or out"),
    Param::expect("action", Shape::Text, "allow or block"),
    Param::expect("protocol", Shape::Text, "TCP, UDP, Any..."),
    Param::expect("ports", Shape::List, "its local ports"),
];

pub static FIREWALL: WinKind = WinKind {
    name: "firewall",
    subject: "a rule name or display name",
    doc: "A Windows Defender Firewall rule, by name (built-in rules: FPS-SMB-In-TCP) or by the display name the candidate gave it.",
    params: FIREWALL_PARAMS,
    presence: Some("exists"),
    needs: "Get-NetFirewallRule",
    script: |q| {
        format!(
            "$n = {}\n\
             $f = Get-NetFirewallRule -Name $n -ErrorAction SilentlyContinue\n\
             if (-not $f) {{ $f = Get-NetFirewallRule -DisplayName $n -ErrorAction SilentlyContinue | Select-Object -First 1 }}\n\
             $r = $null\n\
             if ($f) {{ $pf = $f | Get-NetFirewallPortFilter; $r = [pscustomobject]@{{ Name = $f.Name; Enabled = [int]$f.Enabled; Direction = [int]$f.Direction; Action = [int]$f.Action; Protocol = $pf.Protocol; LocalPort = @($pf.LocalPort) }} }}\n",
            subject(q)
        )
    },
    // GpoBoolean True 1; Direction Inbound 1 Outbound 2; Action Allow 2 Block 4.
    read: |_, v| {
        let direction = required(number(v, "Direction"), "Direction")?;
        let action = required(number(v, "Action"), "Action")?;
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("enabled", Fact::Bool(number(v, "Enabled") == Some(1.0))),
            (
                "direction",
                Fact::Text(if direction == 1.0 { "in" } else { "out" }.into()),
            ),
            (
                "action",
                Fact::Text(if action == 2.0 { "allow" } else { "block" }.into()),
            ),
            (
                "protocol",
                Fact::Text(text(v, "Protocol").unwrap_or_default()),
            ),
            ("ports", Fact::List(strings(v, "LocalPort"))),
        ]))
    },
};

// ---- command ----------------------------------------------------------------------------

const COMMAND_PARAMS: &[Param] = &[
    Param::expect(
        "succeeded",
        Shape::Bool,
        "the script block ran without a terminating error",
    ),
    Param::expect(
        "output",
        Shape::Text,
        "what it returned, as Out-String writes it, without the final newlines",
    ),
];

pub static COMMAND: WinKind = WinKind {
    name: "command",
    subject: "a PowerShell script block",
    doc: "A PowerShell script block of the lab's own: whether it ran without error, and what it returned. It must only read.",
    params: COMMAND_PARAMS,
    presence: None,
    needs: "Out-String",
    script: |q| {
        format!(
            "$r = try {{ $o = & ([scriptblock]::Create({})) | Out-String; [pscustomobject]@{{ Succeeded = $true; Output = $o.TrimEnd() }} }} catch {{ [pscustomobject]@{{ Succeeded = $false; Output = $_.Exception.Message }} }}\n",
            subject(q)
        )
    },
    read: |_, v| {
        Ok(facts([
            (
                "succeeded",
                Fact::Bool(required(boolean(v, "Succeeded"), "Succeeded")?),
            ),
            ("output", Fact::Text(text(v, "Output").unwrap_or_default())),
        ]))
    },
};

// ---- ad_user ----------------------------------------------------------------------------

const AD_USER_PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "a domain account of that sAMAccountName exists",
    ),
    Param::expect("enabled", Shape::Bool, "the account is enabled"),
    Param::expect(
        "ou",
        Shape::Text,
        "the distinguished name of the OU it is in",
    ),
    Param::expect(
        "groups",
        Shape::List,
        "the groups it is a direct member of, by their CN",
    ),
    Param::expect("upn", Shape::Text, "its user principal name"),
    Param::expect("given_name", Shape::Text, "its first name"),
    Param::expect("surname", Shape::Text, "its last name"),
];

pub static AD_USER: WinKind = WinKind {
    name: "ad_user",
    subject: "a sAMAccountName",
    doc: "An Active Directory user, on a domain controller: enabled, its OU, its groups.",
    params: AD_USER_PARAMS,
    presence: Some("exists"),
    needs: "Get-ADUser",
    script: |q| {
        format!(
            "$n = {}\n\
             $r = Get-ADUser -Filter 'SamAccountName -eq $n' -Properties MemberOf | Select-Object -First 1 SamAccountName,DistinguishedName,Enabled,UserPrincipalName,GivenName,Surname,MemberOf\n",
            subject(q)
        )
    },
    read: |_, v| {
        let dn = required(text(v, "DistinguishedName"), "DistinguishedName")?;
        Ok(facts([
            ("exists", Fact::Bool(true)),
            (
                "enabled",
                Fact::Bool(required(boolean(v, "Enabled"), "Enabled")?),
            ),
            ("ou", Fact::Text(parent_dn(&dn))),
            (
                "groups",
                Fact::List(strings(v, "MemberOf").iter().map(|g| cn(g)).collect()),
            ),
            (
                "upn",
                Fact::Text(text(v, "UserPrincipalName").unwrap_or_default()),
            ),
            (
                "given_name",
                Fact::Text(text(v, "GivenName").unwrap_or_default()),
            ),
            (
                "surname",
                Fact::Text(text(v, "Surname").unwrap_or_default()),
            ),
        ]))
    },
};

/// The CN of a distinguished name: `CN=GG_Compta,OU=...` is `GG_Compta`.
fn cn(dn: &str) -> String {
    let first = dn.len() - parent_dn(dn).len();
    let rdn = dn[..first].trim_end_matches(',');
    rdn.split_once('=')
        .map_or(rdn, |(_, v)| v)
        .replace('\\', "")
}

// ---- ad_group ---------------------------------------------------------------------------

const AD_GROUP_PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "a domain group of that sAMAccountName exists",
    ),
    Param::expect(
        "ou",
        Shape::Text,
        "the distinguished name of the OU it is in",
    ),
    Param::expect("scope", Shape::Text, "domain_local, global or universal"),
    Param::expect(
        "security",
        Shape::Bool,
        "a security group (not a distribution list)",
    ),
    Param::expect(
        "members",
        Shape::List,
        "its direct members' sAMAccountNames (users and groups)",
    ),
];

pub static AD_GROUP: WinKind = WinKind {
    name: "ad_group",
    subject: "a group's sAMAccountName",
    doc: "An Active Directory group, on a domain controller: its OU, scope, category and direct members.",
    params: AD_GROUP_PARAMS,
    presence: Some("exists"),
    needs: "Get-ADGroup",
    script: |q| {
        format!(
            "$n = {}\n\
             $g = Get-ADGroup -Filter 'SamAccountName -eq $n' | Select-Object -First 1\n\
             $r = $null\n\
             if ($g) {{ $r = [pscustomobject]@{{ SamAccountName = $g.SamAccountName; DistinguishedName = $g.DistinguishedName; GroupScope = [int]$g.GroupScope; GroupCategory = [int]$g.GroupCategory; Members = @(Get-ADGroupMember -Identity $g | ForEach-Object {{ $_.SamAccountName }}) }} }}\n",
            subject(q)
        )
    },
    // ADGroupScope: DomainLocal 0, Global 1, Universal 2; ADGroupCategory: Distribution 0, Security 1.
    read: |_, v| {
        let dn = required(text(v, "DistinguishedName"), "DistinguishedName")?;
        let scope = required(number(v, "GroupScope"), "GroupScope")?;
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("ou", Fact::Text(parent_dn(&dn))),
            (
                "scope",
                Fact::Text(
                    ["domain_local", "global", "universal"]
                        .get(scope as usize)
                        .copied()
                        .unwrap_or("unknown")
                        .into(),
                ),
            ),
            (
                "security",
                Fact::Bool(number(v, "GroupCategory") == Some(1.0)),
            ),
            ("members", Fact::List(strings(v, "Members"))),
        ]))
    },
};

// ---- gpo --------------------------------------------------------------------------------

const GPO_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "a GPO of that display name exists"),
    Param::expect(
        "linked_to",
        Shape::List,
        "the distinguished names of the OUs (or the domain) it is linked to",
    ),
    Param::expect("enabled", Shape::Bool, "none of its settings are disabled"),
];

pub static GPO: WinKind = WinKind {
    name: "gpo",
    subject: "a GPO display name",
    doc: "A Group Policy Object, on a domain controller: where it is linked and whether its settings are enabled.",
    params: GPO_PARAMS,
    presence: Some("exists"),
    needs: "Get-GPO",
    script: |q| {
        format!(
            "$g = Get-GPO -Name {} -ErrorAction SilentlyContinue\n\
             $r = $null\n\
             if ($g) {{\n\
             \x20 $id = '{{' + $g.Id.ToString() + '}}'\n\
             \x20 $links = @(@(Get-ADDomain) + @(Get-ADOrganizationalUnit -Filter * -Properties LinkedGroupPolicyObjects) | Where-Object {{ $_.LinkedGroupPolicyObjects -match [regex]::Escape($id) }} | ForEach-Object {{ $_.DistinguishedName }})\n\
             \x20 $r = [pscustomobject]@{{ DisplayName = $g.DisplayName; Id = $g.Id.ToString(); GpoStatus = [int]$g.GpoStatus; LinkedTo = $links }}\n\
             }}\n",
            subject(q)
        )
    },
    // GpoStatus: AllSettingsDisabled 0, UserSettingsDisabled 1, ComputerSettingsDisabled 2, AllSettingsEnabled 3.
    read: |_, v| {
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("linked_to", Fact::List(strings(v, "LinkedTo"))),
            ("enabled", Fact::Bool(number(v, "GpoStatus") == Some(3.0))),
        ]))
    },
};

// ---- dhcp_scope -------------------------------------------------------------------------

const DHCP_SCOPE_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "an IPv4 scope of that id exists"),
    Param::expect("active", Shape::Bool, "the scope is active"),
    Param::expect("start", Shape::Text, "the first address of its range"),
    Param::expect("end", Shape::Text, "the last address of its range"),
    Param::expect("mask", Shape::Text, "its subnet mask"),
    Param::expect("router", Shape::List, "option 3, the routers"),
    Param::expect("dns_servers", Shape::List, "option 6, the DNS servers"),
    Param::expect("domain", Shape::Text, "option 15, the DNS domain name"),
    Param::expect(
        "reservations",
        Shape::List,
        "its reservations as ADDRESS=MAC (MAC as aa-bb-cc-dd-ee-ff, lower case)",
    ),
];

pub static DHCP_SCOPE: WinKind = WinKind {
    name: "dhcp_scope",
    subject: "a scope id",
    doc: "An IPv4 scope of the Windows DHCP server: range, mask, state, options 3, 6 and 15 (scope or server level), reservations.",
    params: DHCP_SCOPE_PARAMS,
    presence: Some("exists"),
    needs: "Get-DhcpServerv4Scope",
    script: |q| {
        format!(
            "$id = {}\n\
             $s = Get-DhcpServerv4Scope -ScopeId $id -ErrorAction SilentlyContinue\n\
             $r = $null\n\
             if ($s) {{ $r = [pscustomobject]@{{ ScopeId = $s.ScopeId.ToString(); SubnetMask = $s.SubnetMask.ToString(); StartRange = $s.StartRange.ToString(); EndRange = $s.EndRange.ToString(); State = $s.State; Options = @(Get-DhcpServerv4OptionValue -ScopeId $id -All | ForEach-Object {{ [pscustomobject]@{{ OptionId = $_.OptionId; Value = @($_.Value) }} }}); Reservations = @(Get-DhcpServerv4Reservation -ScopeId $id | ForEach-Object {{ [pscustomobject]@{{ IPAddress = $_.IPAddress.ToString(); ClientId = $_.ClientId }} }}) }} }}\n",
            subject(q)
        )
    },
    read: |_, v| {
        let options = items(v, "Options");
        let option = |id: f64| {
            options
                .iter()
                .find(|o| number(o, "OptionId") == Some(id))
                .map(|o| strings(o, "Value"))
                .unwrap_or_default()
        };
        let reservations = items(v, "Reservations")
            .iter()
            .filter_map(|r| {
                Some(format!(
                    "{}={}",
                    text(r, "IPAddress")?,
                    text(r, "ClientId")?.to_lowercase()
                ))
            })
            .collect();
        Ok(facts([
            ("exists", Fact::Bool(true)),
            // State is a string property of the CIM class, "Active" or "Inactive", not localized.
            (
                "active",
                Fact::Bool(text(v, "State").is_some_and(|s| s.eq_ignore_ascii_case("active"))),
            ),
            (
                "start",
                Fact::Text(required(text(v, "StartRange"), "StartRange")?),
            ),
            (
                "end",
                Fact::Text(required(text(v, "EndRange"), "EndRange")?),
            ),
            (
                "mask",
                Fact::Text(required(text(v, "SubnetMask"), "SubnetMask")?),
            ),
            ("router", Fact::List(option(3.0))),
            ("dns_servers", Fact::List(option(6.0))),
            ("domain", Fact::Text(option(15.0).join(" "))),
            ("reservations", Fact::List(reservations)),
        ]))
    },
};

// ---- dns_record -------------------------------------------------------------------------

const DNS_RECORD_PARAMS: &[Param] = &[
    Param::input("zone", &[], "the zone the record is in").required(),
    Param::input(
        "type",
        &["A", "AAAA", "CNAME", "MX", "NS", "PTR", "TXT", "SRV"],
        "the record type; A when not given",
    ),
    Param::expect(
        "exists",
        Shape::Bool,
        "a record of that name and type exists in the zone",
    ),
    Param::expect(
        "data",
        Shape::List,
        "the records' data: an address, a target name (with its final dot), `PREF HOST` for MX, `PRIO WEIGHT PORT HOST` for SRV",
    ),
];

pub static DNS_RECORD: WinKind = WinKind {
    name: "dns_record",
    subject: "a name in the zone",
    doc: "A record of a zone of the Windows DNS server (@ names the zone itself), read from the server's own zone data.",
    params: DNS_RECORD_PARAMS,
    presence: Some("exists"),
    needs: "Get-DnsServerResourceRecord",
    script: |q| {
        let Some(zone) = q.input("zone") else {
            return "throw 'a dns_record check needs `zone:`, the zone the record is in'\n".into();
        };
        format!(
            "$rr = @(Get-DnsServerResourceRecord -ZoneName {} -Name {} -RRType {} -ErrorAction SilentlyContinue)\n\
             $r = $null\n\
             if ($rr.Count -gt 0) {{ $r = @($rr | ForEach-Object {{ [pscustomobject]@{{ HostName = $_.HostName; RecordType = $_.RecordType; RecordData = $_.RecordData | Select-Object * -ExcludeProperty Cim* }} }}) }}\n",
            ps_quote(zone),
            subject(q),
            ps_quote(q.input("type").unwrap_or("A")),
        )
    },
    read: |_, v| {
        let records = match v {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        let mut data = Vec::new();
        for record in records {
            let d = record
                .get("RecordData")
                .ok_or("a record without RecordData")?;
            let t = |k: &str| text(d, k).unwrap_or_default();
            let value = match text(record, "RecordType").as_deref() {
                Some("A") => t("IPv4Address"),
                Some("AAAA") => t("IPv6Address"),
                Some("CNAME") => t("HostNameAlias"),
                Some("MX") => format!("{} {}", t("Preference"), t("MailExchange")),
                Some("NS") => t("NameServer"),
                Some("PTR") => t("PtrDomainName"),
                Some("TXT") => t("DescriptiveText"),
                Some("SRV") => format!(
                    "{} {} {} {}",
                    t("Priority"),
                    t("Weight"),
                    t("Port"),
                    t("DomainName")
                ),
                other => return Err(format!("a record of type {other:?}")),
            };
            data.push(value);
        }
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("data", Fact::List(data)),
        ]))
    },
};

// ---- share ------------------------------------------------------------------------------

const SHARE_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "an SMB share of that name exists"),
    Param::expect("path", Shape::Text, "the folder it shares"),
    Param::expect(
        "access",
        Shape::List,
        "its share permissions as ACCOUNT:RIGHT (full, change, read), the account by name and by SID (S-1-1-0 is Everyone in every language); Deny entries as ACCOUNT:deny_RIGHT",
    ),
];

pub static SHARE: WinKind = WinKind {
    name: "share",
    subject: "a share name",
    doc: "An SMB share of a Windows server: its folder and its share permissions (the folder's NTFS rights are a `file` check).",
    params: SHARE_PARAMS,
    presence: Some("exists"),
    needs: "Get-SmbShare",
    script: |q| {
        format!(
            "$s = Get-SmbShare -Name {} -ErrorAction SilentlyContinue\n\
             $r = $null\n\
             if ($s) {{ $r = [pscustomobject]@{{ Name = $s.Name; Path = $s.Path; Access = @(Get-SmbShareAccess -Name $s.Name | ForEach-Object {{ $sid = try {{ ([System.Security.Principal.NTAccount]$_.AccountName).Translate([System.Security.Principal.SecurityIdentifier]).Value }} catch {{ $null }}; [pscustomobject]@{{ Name = $_.AccountName; SID = $sid; AccessControlType = [int]$_.AccessControlType; AccessRight = [int]$_.AccessRight }} }}) }} }}\n",
            subject(q)
        )
    },
    // AccessRight: Full 0, Change 1, Read 2, Custom 3; AccessControlType: Allow 0, Deny 1.
    read: |_, v| {
        let access = accounts(&items(v, "Access"), |e| {
            let right = ["full", "change", "read", "custom"]
                .get(number(e, "AccessRight")? as usize)
                .copied()?;
            let deny = if number(e, "AccessControlType")? == 1.0 {
                "deny_"
            } else {
                ""
            };
            Some(format!(":{deny}{right}"))
        });
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("path", Fact::Text(required(text(v, "Path"), "Path")?)),
            ("access", Fact::List(access)),
        ]))
    },
};

// ---- quota (FSRM) -----------------------------------------------------------------------

const QUOTA_PARAMS: &[Param] = &[
    Param::expect("exists", Shape::Bool, "an FSRM quota is set on that folder"),
    Param::expect("size_mb", Shape::Number, "its limit in MiB"),
    Param::expect(
        "hard",
        Shape::Bool,
        "a hard limit (writes beyond it are refused), not a soft one",
    ),
    Param::expect("enabled", Shape::Bool, "the quota is not disabled"),
    Param::expect(
        "template",
        Shape::Text,
        "the template it was made from, if any",
    ),
];

pub static QUOTA: WinKind = WinKind {
    name: "quota",
    subject: "a folder path",
    doc: "A File Server Resource Manager quota on a folder: its size, hard or soft, enabled.",
    params: QUOTA_PARAMS,
    presence: Some("exists"),
    needs: "Get-FsrmQuota",
    script: |q| {
        format!(
            "$r = Get-FsrmQuota -Path {} -ErrorAction SilentlyContinue | Select-Object Path,Size,SoftLimit,Disabled,Template\n",
            subject(q)
        )
    },
    read: |_, v| {
        let size = required(number(v, "Size"), "Size")?;
        Ok(facts([
            ("exists", Fact::Bool(true)),
            ("size_mb", Fact::Number(size / (1024.0 * 1024.0))),
            (
                "hard",
                Fact::Bool(!required(boolean(v, "SoftLimit"), "SoftLimit")?),
            ),
            (
                "enabled",
                Fact::Bool(!boolean(v, "Disabled").unwrap_or(false)),
            ),
            (
                "template",
                Fact::Text(text(v, "Template").unwrap_or_default()),
            ),
        ]))
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_split_at_unescaped_commas() {
        assert_eq!(
            parent_dn("CN=Martin\\, Alice,OU=Compta,DC=lab,DC=local"),
            "OU=Compta,DC=lab,DC=local"
        );
        assert_eq!(cn("CN=GG_Compta,OU=Groupes,DC=lab,DC=local"), "GG_Compta");
        assert_eq!(right_name(2_032_127), "full");
        assert_eq!(right_name(1_245_631), "modify");
        assert_eq!(right_name(1_179_817), "read_execute");
    }
}
