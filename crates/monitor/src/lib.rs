//! bedside-monitor: see ARCHITECTURE.md
