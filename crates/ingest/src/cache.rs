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
