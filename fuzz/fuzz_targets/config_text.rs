//! Configuration text (swanctl.conf syntax, as vtid reads it from a file or
//! from `swanctl --load-all`): whatever the bytes, parsing and loading never
//! panic, and a loaded configuration's derived values (lifetimes, traffic
//! selectors, interface bindings, reqids) can be computed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = config::load_str(text, "fuzz.conf") else {
        return;
    };
    let cfg = &loaded.config;
    let _ = cfg.validate();
    let mut alloc = cfg.reqid_allocator();
    for conn in &cfg.connections {
        let _ = conn.lifetimes();
        for child in &conn.children {
            let _ = child.lifetimes();
            let _ = cfg.interface_for_child(conn, child);
            let _ = cfg.traffic_selectors(conn, child);
            let _ = child.origin.at("esp_proposals");
            let _ = alloc.allocate();
        }
    }
    for w in &loaded.warnings {
        let _ = w.to_string();
    }
});
