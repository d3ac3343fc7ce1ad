//! `service: UNIT`: whether a systemd unit exists, is running, and starts at boot.

use super::{Facts, Kind, Param, Query};
use crate::expect::{Fact, Shape};
use crate::transport::{ExecOutput, shell_quote};

pub struct Service;

const PARAMS: &[Param] = &[
    Param::expect(
        "exists",
        Shape::Bool,
        "systemd knows the unit (a masked unit exists)",
    ),
    Param::expect(
        "running",
        Shape::Bool,
        "the unit is active now (reloading counts; starting does not)",
    ),
    Param::expect(
        "enabled",
        Shape::Bool,
        "it is enabled at boot (static, indirect and --runtime are not; a service started by an init script is when its rc links say so, as `systemctl is-enabled` reads them)",
    ),
];

/// The unit types systemd knows; a name without one of these is a service, as systemctl reads it.
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "timer",
    "mount",
    "automount",
    "swap",
    "path",
    "slice",
    "scope",
    "device",
];

const NO_SYSTEMD: &str = "systemd is not running on this host";

#[async_trait::async_trait]
impl Kind for Service {
    fn name(&self) -> &'static str {
        "service"
    }

    fn subject(&self) -> &'static str {
        "a systemd unit name (nginx means nginx.service)"
    }

    fn doc(&self) -> &'static str {
        "A systemd unit: whether it exists, is running, and is enabled at boot."
    }

    fn params(&self) -> &'static [Param] {
        PARAMS
    }

    fn presence(&self) -> Option<&'static str> {
        Some("exists")
    }

    /// `/run/systemd/system` is how systemd itself tells that it booted the host
    /// (`sd_booted`); without it systemctl could only fail. A unit made from an init script
    /// (isc-dhcp-server on Debian) has the file state `generated` whether or not
    /// `update-rc.d` enabled it: only `systemctl is-enabled` asks the script's rc links.
    fn script(&self, q: &Query) -> String {
        let unit = shell_quote(&unit_name(q.subject));
        format!(
            "[ -d /run/systemd/system ] || {{ echo systemd=no; exit 0; }}\n\
             need systemctl\n\
             show=$(systemctl show -p LoadState,ActiveState,SubState,UnitFileState -- {unit}) || exit\n\
             printf '%s\\n' \"$show\"\n\
             case \"$show\" in *UnitFileState=generated*)\n\
             \x20 printf 'IsEnabled=%s\\n' \"$(systemctl is-enabled -- {unit} 2>/dev/null)\" ;;\n\
             esac\n"
        )
    }

    fn parse(&self, _q: &Query, output: &ExecOutput) -> Result<Facts, String> {
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        if stdout.trim() == "systemd=no"
            || stderr.contains("has not been booted with systemd")
            || stderr.contains("Failed to connect to bus")
        {
            return Err(NO_SYSTEMD.to_string());
        }
        if output.exit_code != Some(0) {
            return Err(match stderr.trim() {
                "" => format!("systemctl failed (exit {:?})", output.exit_code),
                reason => reason.to_string(),
            });
        }
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        };
        let load = value("LoadState").ok_or("systemctl did not report LoadState")?;
        let mut facts = Facts::new();
        if load == "not-found" {
            facts.insert("exists", Fact::Bool(false));
            return Ok(facts);
        }
        let active = value("ActiveState").ok_or("systemctl did not report ActiveState")?;
        facts.insert("exists", Fact::Bool(true));
        facts.insert(
            "running",
            Fact::Bool(matches!(active, "active" | "reloading")),
        );
        // `enabled-runtime` is undone at reboot; `static` and `indirect` units have no
        // install links of their own: none of them is what "enable the service" asks for.
        let enabled = match value("UnitFileState").unwrap_or("") {
            "generated" => value("IsEnabled") == Some("enabled"),
            state => state == "enabled",
        };
        facts.insert("enabled", Fact::Bool(enabled));
        Ok(facts)
    }
}

/// `nginx` means `nginx.service`, as systemctl reads it; `ssh.socket` stays a socket.
fn unit_name(subject: &str) -> String {
    match subject.rsplit_once('.') {
        Some((_, suffix)) if UNIT_TYPES.contains(&suffix) => subject.to_string(),
        _ => format!("{subject}.service"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testing::{parse_canned, run_locally};

    #[test]
    fn names_are_completed_like_systemctl_does() {
        assert_eq!(unit_name("nginx"), "nginx.service");
        assert_eq!(unit_name("ssh.socket"), "ssh.socket");
        assert_eq!(unit_name("getty@tty1"), "getty@tty1.service");
        assert_eq!(unit_name("php8.2-fpm"), "php8.2-fpm.service");
    }

    /// This machine's PID 1 is not systemd: the check cannot be made, which is not a fail.
    #[test]
    fn without_systemd_the_check_is_an_error() {
        assert_eq!(
            run_locally(&Service, "nginx", &[], &["running"]),
            Err(NO_SYSTEMD.to_string())
        );
    }

    #[test]
    fn systemctls_own_complaint_is_understood() {
        let err = "System has not been booted with systemd as init system (PID 1). Can't operate.\n\
                   Failed to connect to bus: Host is down\n";
        assert_eq!(
            parse_canned(&Service, "nginx", &[], 1, "", err),
            Err(NO_SYSTEMD.to_string())
        );
    }

    #[test]
    fn running_and_enabled() {
        let out = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n";
        let facts = parse_canned(&Service, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts["exists"], Fact::Bool(true));
        assert_eq!(facts["running"], Fact::Bool(true));
        assert_eq!(facts["enabled"], Fact::Bool(true));
    }

    #[test]
    fn stopped_and_disabled_in_systemctls_own_order() {
        let out = "UnitFileState=disabled\nLoadState=loaded\nSubState=dead\nActiveState=inactive\n";
        let facts = parse_canned(&Service, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts["running"], Fact::Bool(false));
        assert_eq!(facts["enabled"], Fact::Bool(false));
    }

    #[test]
    fn static_masked_and_failed_units() {
        let out = "LoadState=loaded\nActiveState=active\nSubState=exited\nUnitFileState=static\n";
        let facts = parse_canned(&Service, "ifupdown-pre", &[], 0, out, "").unwrap();
        assert_eq!(facts["running"], Fact::Bool(true));
        assert_eq!(facts["enabled"], Fact::Bool(false));
        let out = "LoadState=masked\nActiveState=inactive\nSubState=dead\nUnitFileState=masked\n";
        let facts = parse_canned(&Service, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts["exists"], Fact::Bool(true));
        assert_eq!(facts["enabled"], Fact::Bool(false));
        let out = "LoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=enabled\n";
        let facts = parse_canned(&Service, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts["running"], Fact::Bool(false));
        assert_eq!(facts["enabled"], Fact::Bool(true));
    }

    /// A service of an init script: systemctl is-enabled reads its rc links.
    #[test]
    fn a_generated_unit_is_enabled_as_its_init_script_is() {
        let show =
            "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=generated\n";
        for (is_enabled, enabled) in [("enabled", true), ("disabled", false), ("", false)] {
            let out = format!("{show}IsEnabled={is_enabled}\n");
            let facts = parse_canned(&Service, "isc-dhcp-server", &[], 0, &out, "").unwrap();
            assert_eq!(facts["running"], Fact::Bool(true));
            assert_eq!(facts["enabled"], Fact::Bool(enabled), "{is_enabled}");
        }
    }

    #[test]
    fn an_unknown_unit_only_says_so() {
        let out = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n";
        let facts = parse_canned(&Service, "nginx", &[], 0, out, "").unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["exists"], Fact::Bool(false));
    }

    #[test]
    fn garbage_is_not_understood() {
        assert!(parse_canned(&Service, "nginx", &[], 0, "hello\n", "").is_err());
        assert!(parse_canned(&Service, "a b", &[], 1, "", "Invalid unit name\n").is_err());
    }
}
