//! A bounded map of patient states with their store versions. When full,
//! the least recently used half is dropped (amortised O(log n) per use).

use bedside_core::PatientState;
use std::collections::HashMap;

pub(crate) struct StateCache {
    cap: usize,
    tick: u64,
    map: HashMap<String, (i64, PatientState, u64)>,
}

impl StateCache {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            tick: 0,
            map: HashMap::new(),
        }
    }
    pub(crate) fn get(&mut self, id: &str) -> Option<(i64, PatientState)> {
        self.tick += 1;
        let t = self.tick;
        self.map.get_mut(id).map(|e| {
            e.2 = t;
            (e.0, e.1.clone())
        })
    }
    /// Like [`StateCache::get`], without copying the state.
    pub(crate) fn peek(&mut self, id: &str) -> Option<(i64, &PatientState)> {
        self.tick += 1;
        let t = self.tick;
        self.map.get_mut(id).map(|e| {
            e.2 = t;
            (e.0, &e.1)
        })
    }
    /// Remove and return (the caller puts it back after use).
    pub(crate) fn take(&mut self, id: &str) -> Option<(i64, PatientState)> {
        self.map.remove(id).map(|(v, s, _)| (v, s))
    }
    pub(crate) fn remove(&mut self, id: &str) {
        self.map.remove(id);
    }
    /// Put a state read from the store, unless the cache already holds
    /// that version or a newer one (a writer may have cached a newer
    /// state while the read was on its way; versions only grow).
    pub(crate) fn fill(&mut self, id: &str, version: i64, state: &PatientState) {
        if self.map.get(id).is_some_and(|e| e.0 >= version) {
            return;
        }
        self.put(id.to_string(), version, state.clone());
    }
    pub(crate) fn put(&mut self, id: String, version: i64, state: PatientState) {
        self.tick += 1;
        self.map.insert(id, (version, state, self.tick));
        if self.map.len() > self.cap {
            let mut ticks: Vec<u64> = self.map.values().map(|e| e.2).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            self.map.retain(|_, e| e.2 > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, events: usize) -> PatientState {
        let mut s = PatientState::new(id);
        for i in 0..events {
            s.events.insert(format!("e{i}"), Default::default());
        }
        s
    }

    #[test]
    fn fill_never_replaces_the_same_or_a_newer_version() {
        let mut c = StateCache::new(8);
        c.fill("p", 3, &state("p", 1));
        assert_eq!(c.peek("p").map(|(v, s)| (v, s.events.len())), Some((3, 1)));
        // An older read arriving late leaves the newer state.
        c.fill("p", 2, &state("p", 5));
        assert_eq!(c.peek("p").map(|(v, s)| (v, s.events.len())), Some((3, 1)));
        // The same version read again: unchanged.
        c.fill("p", 3, &state("p", 7));
        assert_eq!(c.peek("p").map(|(v, s)| (v, s.events.len())), Some((3, 1)));
        // A newer one replaces it.
        c.fill("p", 4, &state("p", 2));
        assert_eq!(c.peek("p").map(|(v, s)| (v, s.events.len())), Some((4, 2)));
    }
}
