//! bedside-fhir: see ARCHITECTURE.md
