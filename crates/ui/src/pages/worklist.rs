//! Worklist: tasks grouped by role and owner, with live deadlines,
//! escalation state and the claim / acknowledge / complete / reassign forms.

use super::Choice;
use crate::layout::{page, NavItem};
use crate::urls;
use crate::util::{countdown, datetime, iso};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// The worklist page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorklistView {
    /// Server time, for the initial countdown text (the script takes over).
    pub now: DateTime<Utc>,
    pub tasks: Vec<TaskRow>,
    /// Roles and practitioners a task can be reassigned to
    /// (value is submitted as form field `to`).
    pub reassign_targets: Vec<Choice>,
    /// Coded reasons a responder may give to disagree with the alert behind
    /// a task (snooze; value is submitted as form field `reason`).
    #[serde(default)]
    pub snooze_reasons: Vec<Choice>,
    /// A one-line message after an action ("Task claimed").
    pub flash: Option<String>,
    /// Demo mode only (no sign-in): the demo users one may act as (value =
    /// their Practitioner reference), submitted to `/ui/act-as`. Empty
    /// with sign-in on: the worklist acts as the signed-in person.
    #[serde(default)]
    pub act_as: Vec<Choice>,
    /// Who the worklist acts as (the signed-in person's Practitioner, or
    /// the demo user picked).
    #[serde(default)]
    pub acting: Option<String>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub id: String,
    /// "Review sepsis alert".
    pub title: String,
    /// Patient pseudonym or name, as given.
    pub patient: String,
    /// Link to the patient (e.g. the sandbox timeline).
    pub patient_url: Option<String>,
    /// The role the task is for ("rapid-response nurse").
    pub role: String,
    /// The practitioner who owns it, once claimed.
    pub owner: Option<String>,
    /// "routine", "urgent", "asap", "stat".
    pub priority: String,
    /// FHIR Task status ("requested", "accepted", "in-progress", "completed").
    pub status: String,
    pub deadline: Option<DateTime<Utc>>,
    /// Escalation state ("step 2 of 3: charge nurse"), when escalated.
    pub escalation: Option<String>,
    /// Risk and reasons in one line, when known.
    pub context: Option<String>,
    /// Which action buttons to offer.
    pub actions: Vec<TaskAction>,
    /// The decision completing this task records (its pathway step's
    /// options; submitted as form field `decision`). Empty: none.
    #[serde(default)]
    pub decisions: Vec<Choice>,
    /// Coded reasons of the options that take one (submitted as form
    /// field `reason`; the label names the option).
    #[serde(default)]
    pub decision_reasons: Vec<Choice>,
    /// Why the task exists, in short lines (risk, top factors, study,
    /// finding, location...), from its inputs.
    #[serde(default)]
    pub why: Vec<String>,
    /// The patient's risk over time, oldest first, for a sparkline.
    #[serde(default)]
    pub trend: Vec<crate::charts::SparkPoint>,
}

/// A worklist action; each is a POST to `/ui/worklist/{task_id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskAction {
    Claim,
    Acknowledge,
    Complete,
    Reassign,
    /// Disagree with the alert behind the task: snooze it with a coded
    /// reason (ends the pathway and cancels the task).
    Snooze,
}

impl TaskAction {
    /// Every action.
    pub const ALL: [TaskAction; 5] = [
        TaskAction::Claim,
        TaskAction::Acknowledge,
        TaskAction::Complete,
        TaskAction::Reassign,
        TaskAction::Snooze,
    ];

    /// The path segment ("claim").
    pub fn as_str(self) -> &'static str {
        match self {
            TaskAction::Claim => "claim",
            TaskAction::Acknowledge => "acknowledge",
            TaskAction::Complete => "complete",
            TaskAction::Reassign => "reassign",
            TaskAction::Snooze => "snooze",
        }
    }

    /// Parses a path segment.
    pub fn parse(s: &str) -> Option<TaskAction> {
        TaskAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn label(self) -> &'static str {
        match self {
            TaskAction::Claim => "Claim",
            TaskAction::Acknowledge => "Acknowledge",
            TaskAction::Complete => "Complete",
            TaskAction::Reassign => "Reassign",
            TaskAction::Snooze => "Disagree and snooze",
        }
    }
}

/// The worklist page. Tasks are grouped by role, then owner (unclaimed
/// first), and ordered by deadline (none last) within a group.
pub fn render_worklist(v: &WorklistView) -> Markup {
    page(
        "Worklist",
        Some(NavItem::Worklist),
        html! {
            h1 { "Worklist" }
            (worklist_fragment(v))
        },
    )
}

/// Just the `#worklist` element (what htmx swaps in after an action).
pub fn worklist_fragment(v: &WorklistView) -> Markup {
    let groups = group(&v.tasks);
    html! {
        div #worklist {
            @if !v.act_as.is_empty() {
                form.act-as method="post" action=(urls::act_as()) {
                    label for="act-as" { "Act as (demo)" }
                    select #act-as name="practitioner" {
                        @for c in &v.act_as {
                            option value=(c.value) selected[v.acting.as_deref() == Some(c.value.as_str())] { (c.label) }
                        }
                    }
                    button type="submit" .btn-act-as { "Switch" }
                }
            }
            @if let Some(a) = &v.acting {
                p.acting { "Acting as " strong { (a) } }
            }
            p.flash role="status" { @if let Some(f) = &v.flash { (f) } }
            @if groups.is_empty() {
                p { "No open tasks." }
            }
            @for (gi, (role, owner, tasks)) in groups.iter().enumerate() {
                section.task-group aria-labelledby=(format!("group-{gi}")) {
                    h2 #(format!("group-{gi}")) {
                        (role) " \u{2013} "
                        @match owner { Some(o) => (o), None => "unclaimed" }
                        " " span.count { "(" (tasks.len()) ")" }
                    }
                    ul.tasks {
                        @for (ti, t) in tasks.iter().enumerate() {
                            (task(t, &format!("t{gi}-{ti}"), v))
                        }
                    }
                }
            }
        }
    }
}

type Group<'a> = (&'a str, Option<&'a str>, Vec<&'a TaskRow>);

fn group(tasks: &[TaskRow]) -> Vec<Group<'_>> {
    let mut sorted: Vec<&TaskRow> = tasks.iter().collect();
    sorted.sort_by(|a, b| {
        (a.role.as_str(), a.owner.as_deref())
            .cmp(&(b.role.as_str(), b.owner.as_deref()))
            .then_with(|| match (a.deadline, b.deadline) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut out: Vec<Group<'_>> = Vec::new();
    for t in sorted {
        match out.last_mut() {
            Some((r, o, list)) if *r == t.role && *o == t.owner.as_deref() => list.push(t),
            _ => out.push((t.role.as_str(), t.owner.as_deref(), vec![t])),
        }
    }
    out
}

fn task(t: &TaskRow, dom: &str, v: &WorklistView) -> Markup {
    let title_id = format!("{dom}-title");
    let countdown_text = t.deadline.map(|d| countdown(&d, &v.now));
    html! {
        li class=(format!("task prio-{}", crate::util::slug(&t.priority))) data-task-id=(t.id) {
            h3 #(title_id) {
                (t.title) " \u{2013} "
                @match &t.patient_url { Some(u) => a href=(u) { (t.patient) }, None => (t.patient) }
            }
            dl.task-facts {
                dt { "Priority" } dd { (t.priority) }
                dt { "Status" } dd.status { (t.status) }
                dt { "Deadline" }
                dd {
                    @match (t.deadline, countdown_text) {
                        (Some(d), Some((text, overdue))) => {
                            time.deadline.overdue[overdue] datetime=(iso(&d)) data-deadline=(iso(&d)) title=(datetime(&d)) { (text) }
                        }
                        _ => "none",
                    }
                }
                @if let Some(e) = &t.escalation { dt { "Escalation" } dd.escalation { (e) } }
                @if let Some(cx) = &t.context { dt { "Context" } dd { (cx) } }
            }
            @if !t.why.is_empty() || !t.trend.is_empty() {
                div.task-why {
                    h4 { "Why" }
                    @if !t.trend.is_empty() {
                        (crate::charts::sparkline(&format!("{dom}-trend"), "Risk", "%", &t.trend))
                    }
                    ul.why { @for w in &t.why { li { (w) } } }
                }
            }
            div.task-actions {
                // Reassign needs somewhere to reassign to.
                // Snooze needs a coded reason to give.
                @for a in t.actions.iter().filter(|a| (**a != TaskAction::Reassign || !v.reassign_targets.is_empty()) && (**a != TaskAction::Snooze || !v.snooze_reasons.is_empty())) {
                    (action_form(t, *a, dom, &title_id, v))
                }
            }
        }
    }
}

fn action_form(t: &TaskRow, a: TaskAction, dom: &str, title_id: &str, v: &WorklistView) -> Markup {
    let url = urls::task_action(&t.id, a.as_str());
    let select_id = format!("{dom}-to");
    let reason_id = format!("{dom}-reason");
    html! {
        form.action-form method="post" action=(url) hx-post=(url) hx-target="#worklist" hx-select="#worklist" hx-swap="outerHTML" {
            @if a == TaskAction::Reassign {
                label for=(select_id) { "Reassign to" }
                select #(select_id) name="to" required {
                    @for c in &v.reassign_targets {
                        option value=(c.value) { (c.label) }
                    }
                }
            }
            @if a == TaskAction::Complete && !t.decisions.is_empty() {
                label for=(format!("{dom}-decision")) { "Decision" }
                select #(format!("{dom}-decision")) name="decision" required {
                    @for c in &t.decisions {
                        option value=(c.value) { (c.label) }
                    }
                }
                @if !t.decision_reasons.is_empty() {
                    label for=(format!("{dom}-dreason")) { "Reason (if the decision needs one)" }
                    select #(format!("{dom}-dreason")) name="reason" {
                        option value="" { "\u{2014}" }
                        @for c in &t.decision_reasons {
                            option value=(c.value) { (c.label) }
                        }
                    }
                }
                label for=(format!("{dom}-comment")) { "Comment" }
                input #(format!("{dom}-comment")) type="text" name="comment" maxlength="500";
            }
            @if a == TaskAction::Snooze {
                label for=(reason_id) { "Reason" }
                select #(reason_id) name="reason" required {
                    @for c in &v.snooze_reasons {
                        option value=(c.value) { (c.label) }
                    }
                }
            }
            button type="submit" class=(format!("btn-{}", a.as_str())) aria-describedby=(title_id) { (a.label()) }
        }
    }
}
