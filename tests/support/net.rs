//! The test network: one bridge on the machine, and a namespace plus veth pair per host.
//!
//! The bridge `lgtest0` carries 10.213.0.0/16 with the grader (this machine) at 10.213.0.1.
//! It has no physical port and hosts get no default route, so nothing sent by a host or to
//! a host's address leaves the machine. The bridge and the two reserved addresses below are
//! created once and left in place: they are shared by every test process.

use super::cmd::{must, run};
use super::machine;
use super::slots::Slot;
use std::net::Ipv4Addr;
use std::path::Path;

pub const BRIDGE: &str = "lgtest0";
const PREFIX_LEN: u8 = 16;
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);
const BRIDGE_MAC: &str = "02:4c:47:00:00:01";
/// Routed as `unreachable`: `connect()` fails at once with `EHOSTUNREACH`, no packet is sent.
const UNREACHABLE: Ipv4Addr = Ipv4Addr::new(10, 213, 255, 254);
/// Given a permanent neighbour entry with a MAC no interface has: SYNs go out on the bridge,
/// nobody answers, and `connect()` waits until the client's own timeout.
const SILENT: Ipv4Addr = Ipv4Addr::new(10, 213, 255, 253);
const SILENT_MAC: &str = "02:4c:47:ff:ff:fd";

/// An address on the test subnet where `connect()` fails at once and deterministically with
/// "No route to host" (`EHOSTUNREACH`): the machine routes it as `unreachable`, so not even an
/// ARP request is sent. For grading a host that is down.
pub fn unreachable_address() -> Ipv4Addr {
    machine::prepare();
    UNREACHABLE
}

/// An address on the test subnet where nothing ever answers: TCP SYNs are sent to a MAC no
/// host has, so `connect()` hangs until the client's own timeout (it is never refused). For
/// testing time-outs; keep the client's timeout short.
pub fn silent_address() -> Ipv4Addr {
    machine::prepare();
    SILENT
}

/// The address of host slot `index`: 10.213.HI.LO.
pub fn host_address(index: u32) -> Ipv4Addr {
    let [_, _, hi, lo] = index.to_be_bytes();
    Ipv4Addr::new(10, 213, hi, lo)
}

/// Creates the bridge, its address and the reserved addresses, if another run has not.
pub fn ensure_bridge() {
    if !Path::new("/sys/class/net").join(BRIDGE).exists() {
        must("ip", &["link", "add", BRIDGE, "type", "bridge"]);
    }
    // A bridge with no address of its own takes the lowest MAC among its ports, so it would
    // change MAC whenever a host comes or goes, and every other host would keep sending to
    // the old one until its ARP entry expires (about a minute of lost packets).
    must("ip", &["link", "set", BRIDGE, "address", BRIDGE_MAC]);
    let gateway = format!("{GATEWAY}/{PREFIX_LEN}");
    must("ip", &["addr", "replace", &gateway, "dev", BRIDGE]);
    must("ip", &["link", "set", BRIDGE, "up"]);
    let unreachable = format!("{UNREACHABLE}/32");
    must("ip", &["route", "replace", "unreachable", &unreachable]);
    let silent = SILENT.to_string();
    must(
        "ip",
        &[
            "neigh",
            "replace",
            &silent,
            "lladdr",
            SILENT_MAC,
            "dev",
            BRIDGE,
            "nud",
            "permanent",
        ],
    );
}

/// Gives the slot a network namespace whose eth0 has the slot's address, bridged to the grader.
pub fn plumb(slot: &Slot) {
    let (netns, veth) = (slot.netns(), slot.veth());
    // A failed teardown can leave these behind; the names are the harness's own.
    let _ = unplumb(slot);
    must("ip", &["netns", "add", &netns]);
    must(
        "ip",
        &[
            "link",
            "add",
            &veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "address",
            &slot.mac(),
            "netns",
            &netns,
        ],
    );
    must("ip", &["link", "set", &veth, "master", BRIDGE, "up"]);
    let address = format!("{}/{PREFIX_LEN}", slot.address());
    must(
        "ip",
        &["-n", &netns, "addr", "add", &address, "dev", "eth0"],
    );
    must("ip", &["-n", &netns, "link", "set", "eth0", "up"]);
    must("ip", &["-n", &netns, "link", "set", "lo", "up"]);
}

/// Removes the slot's veth pair and namespace; succeeds when they are already gone.
pub fn unplumb(slot: &Slot) -> Result<(), String> {
    let (netns, veth) = (slot.netns(), slot.veth());
    let mut problems = Vec::new();
    // Deleting one end deletes both; done before the namespace goes because a namespace is
    // destroyed asynchronously, which would leave the veth visible for a moment.
    if Path::new("/sys/class/net").join(&veth).exists()
        && let Err(e) = run("ip", &["link", "del", &veth])
    {
        problems.push(e);
    }
    if Path::new("/run/netns").join(&netns).exists()
        && let Err(e) = run("ip", &["netns", "del", &netns])
    {
        problems.push(e);
    }
    // Best effort: the fixed per-slot MAC already keeps a reused address from going stale.
    let _ = run(
        "ip",
        &["neigh", "del", &slot.address().to_string(), "dev", BRIDGE],
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
