//! The web UI in a real browser (headless Chromium over WebDriver) against
//! a real `bedside demo`: every page opens, a hook fired in the sandbox
//! shows a card, overriding it with a reason shows on the dashboard, a
//! worklist task is completed with the decision its step offers (as the
//! demo nurse picked in "act as"), a radiologist's disagreeing review
//! writes a DetectedIssue, the trust pulse page takes an answer that shows
//! on the dashboard, and a training module is attested. Screenshots go to
//! `screenshots/`.
//!
//! Runs only with `BEDSIDE_E2E=1` (scripts/browser-tests.sh sets it, after
//! installing Chromium and building the binary); plain `cargo test` skips.

use bedside_ui_e2e::{enabled, screenshot, start_bedside, BedsideProcess, Driver, Error};
use fantoccini::{key::Key, Client, Locator};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_in_a_real_browser() {
    if !enabled() {
        // Written to stderr directly so the note shows even though libtest
        // captures the output of passing tests.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "bedside-ui-e2e: browser test skipped (set BEDSIDE_E2E=1 or run scripts/browser-tests.sh)"
        );
        return;
    }
    let server = start_bedside(Duration::from_secs(240)).expect("start bedside demo");
    let driver = Driver::start().expect("start chromedriver");
    let c = driver
        .session()
        .await
        .expect("open a headless Chromium session");
    let res = scenario(&c, &server).await;
    if let Err(e) = &res {
        let _ = screenshot(&c, "failure").await;
        eprintln!(
            "FAILED: {e}\nat {:?}",
            c.current_url().await.map(|u| u.to_string())
        );
        let log = server.log_lines();
        eprintln!("last bedside log lines:");
        for line in &log[log.len().saturating_sub(30)..] {
            eprintln!("  {line}");
        }
    }
    let _ = c.close().await;
    if let Err(e) = res {
        panic!("browser scenario failed: {e}");
    }
}

async fn scenario(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    every_page_opens(c, s).await?;
    keyboard_reaches_the_skip_link(c, s).await?;
    pathway_diagram_refreshes(c, s).await?;
    let reason = sandbox_card_and_override(c, s).await?;
    override_shows_on_dashboard(c, s, reason.as_deref()).await?;
    act_as(c, s, "Practitioner/demo-nurse").await?;
    complete_a_task(c, s).await?;
    radiology_disagreement(c, s).await?;
    trust_pulse(c, s).await?;
    training(c, s).await?;
    Ok(())
}

/// Demo mode's "act as" picker: the worklist then acts as that demo user.
async fn act_as(c: &Client, s: &BedsideProcess, who: &str) -> Result<(), Error> {
    c.goto(&s.url("/ui/worklist")).await?;
    css(c, "select#act-as", 5)
        .await?
        .select_by_value(who)
        .await?;
    css(c, "button.btn-act-as", 2).await?.click().await?;
    wait_text(c, "#worklist p.acting", |t| t.contains(who), 10).await?;
    Ok(())
}

/// The id of the first worklist Task whose title contains `title`.
async fn task_titled(c: &Client, title: &str) -> Result<Option<String>, Error> {
    let v = c
        .execute(
            "var t=arguments[0]; var li=[].find.call(document.querySelectorAll('li.task'), function(l){var h=l.querySelector('h3'); return h && h.textContent.indexOf(t)>=0;});\
             return li ? li.getAttribute('data-task-id') : null;",
            vec![serde_json::json!(title)],
        )
        .await?;
    Ok(v.as_str().map(str::to_string))
}

/// As the demo radiologist: claim an imaging-AI review from the replayed
/// cohort and complete it disagreeing, with a coded reason; the
/// discordance is a DetectedIssue on the patient.
async fn radiology_disagreement(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    act_as(c, s, "Practitioner/demo-radiologist").await?;
    let Some(id) = task_titled(c, "radiologist").await? else {
        return Err("no radiologist review in the demo worklist".into());
    };
    let li = format!("li.task[data-task-id=\"{id}\"]");
    let patient_href = css(c, &format!("{li} h3 a"), 2).await?.attr("href").await?;
    if c.find(Locator::Css(&format!("{li} button.btn-complete")))
        .await
        .is_err()
    {
        css(c, &format!("{li} button.btn-claim"), 5)
            .await?
            .click()
            .await?;
        wait_text(c, "#worklist .flash", |t| t.starts_with("Task claimed"), 10).await?;
    }
    css(c, &format!("{li} select[name=decision]"), 5)
        .await?
        .select_by_value("disagree")
        .await?;
    css(c, &format!("{li} select[name=reason]"), 2)
        .await?
        .select_by_value("ai-false-positive")
        .await?;
    css(c, &format!("{li} input[name=comment]"), 2)
        .await?
        .send_keys("no haemorrhage on review (browser test)")
        .await?;
    screenshot(c, "15-radiology-review-decision").await?;
    css(c, &format!("{li} button.btn-complete"), 2)
        .await?
        .click()
        .await?;
    let flash = wait_text(
        c,
        "#worklist .flash",
        |t| t.starts_with("Task completed") || t.contains("failed"),
        10,
    )
    .await?;
    if !flash.contains("disagrees") {
        return Err(format!("completing the review: {flash:?}").into());
    }
    screenshot(c, "16-radiology-disagreed").await?;
    let patient = patient_href
        .as_deref()
        .and_then(|h| h.split("patient=").nth(1))
        .map(|p| p.split('&').next().unwrap_or(p).to_string())
        .ok_or("the review names no patient")?;
    c.goto(&s.url(&format!("/fhir/DetectedIssue?patient={patient}")))
        .await?;
    let body = text(c, "body").await?;
    if !body.contains("ai-discordance") {
        return Err(format!("no DetectedIssue for {patient}: {body:.300}").into());
    }
    screenshot(c, "17-detected-issue").await?;
    Ok(())
}

/// The trust pulse link opens the one-question page; the answer shows on
/// the model's dashboard.
async fn trust_pulse(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    // The worklist's offer is sampled per clinician and day: ask for
    // clinicians in turn until one is offered (as a card would link it).
    let mut link = None;
    for i in 0..60 {
        let url = s.url(&format!(
            "/pulse/offer?model=sepsis-demo&clinician=Practitioner%2Fe2e-{i}"
        ));
        c.goto(&url).await?;
        let body = text(c, "body").await?;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if let Some(u) = v["offer"]["url"].as_str() {
            link = Some(u.to_string());
            break;
        }
    }
    let link = link.ok_or("no pulse offered to 60 clinicians")?;
    let path = link
        .find("/pulse?")
        .map(|i| &link[i..])
        .ok_or("not a pulse link")?;
    c.goto(&s.url(path)).await?;
    css(c, "form.pulse", 5).await?;
    screenshot(c, "18-pulse-question").await?;
    css(c, "form.pulse input[name=score][value=\"4\"]", 2)
        .await?
        .click()
        .await?;
    css(c, "form.pulse textarea[name=comment]", 2)
        .await?
        .send_keys("browser test")
        .await?;
    css(c, "form.pulse button.btn-pulse", 2)
        .await?
        .click()
        .await?;
    wait_text(c, "p.pulse-thanks", |t| t.contains("4 of 5"), 10).await?;
    screenshot(c, "19-pulse-answered").await?;
    c.goto(&s.url("/ui?model=sepsis-demo")).await?;
    let chart = text(c, "#trust-pulse").await.unwrap_or_default();
    let table: String = c
        .execute(
            "var e=document.querySelector('#trust-pulse'); return e ? e.textContent : '';",
            vec![],
        )
        .await?
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !table.contains("answer") {
        return Err(format!("the answer is not on the dashboard: {chart:?} {table:?}").into());
    }
    screenshot(c, "20-dashboard-trust-pulse").await?;
    Ok(())
}

/// The sepsis use case's training module, attested as the demo nurse.
async fn training(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    act_as(c, s, "Practitioner/demo-nurse").await?;
    c.goto(&s.url("/ui/training/sepsis-screening")).await?;
    for part in [
        "What the model sees",
        "When to be skeptical",
        "Who to tell when it is wrong",
    ] {
        let body = text(c, "main").await.or(text(c, "body").await)?;
        if !body.contains(part) {
            return Err(format!("training module lacks {part:?}").into());
        }
    }
    screenshot(c, "21-training-module").await?;
    css(c, "form.attest select[name=role]", 2)
        .await?
        .select_by_value("nurse")
        .await?;
    css(c, "form.attest input[name=unit]", 2)
        .await?
        .send_keys("ward-3")
        .await?;
    css(c, "form.attest button.btn-attest", 2)
        .await?
        .click()
        .await?;
    wait_text(c, "p.attested", |t| t.contains("demo-nurse"), 10).await?;
    screenshot(c, "22-training-attested").await?;
    Ok(())
}

async fn css(c: &Client, sel: &str, secs: u64) -> Result<fantoccini::elements::Element, Error> {
    c.wait()
        .at_most(Duration::from_secs(secs))
        .for_element(Locator::Css(sel))
        .await
        .map_err(|e| format!("no element {sel:?} within {secs} s: {e}").into())
}

async fn text(c: &Client, sel: &str) -> Result<String, Error> {
    Ok(css(c, sel, 5).await?.text().await?)
}

async fn every_page_opens(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    let pages = [
        ("01-dashboard", "/ui", "Monitoring dashboard"),
        ("02-worklist", "/ui/worklist", "Worklist"),
        ("03-sandbox", "/ui/sandbox", "EHR sandbox"),
        ("04-pathways", "/ui/pathways", ""),
        ("05-models", "/ui/models", "Models"),
    ];
    for (shot, path, h1) in pages {
        let t = Instant::now();
        c.goto(&s.url(path)).await?;
        let got = text(c, "h1").await?;
        if !got.contains(h1) || got.contains("not found") {
            return Err(format!("{path}: h1 is {got:?}, want {h1:?}").into());
        }
        // The vendored assets load (same origin): htmx is defined.
        let htmx = c.execute("return typeof window.htmx;", vec![]).await?;
        if htmx != serde_json::json!("object") {
            return Err(format!("{path}: htmx did not load ({htmx})").into());
        }
        eprintln!("{path}: {:?}", t.elapsed());
        screenshot(c, shot).await?;
    }
    // Model facts, linked from the models index.
    c.goto(&s.url("/ui/models")).await?;
    let link = css(c, r#"main a[href^="/ui/models/"]"#, 5).await?;
    link.click().await?;
    css(c, "#promise-h", 10).await?;
    screenshot(c, "06-model-facts").await?;
    // The 404 page.
    c.goto(&s.url("/ui/definitely-not-a-page")).await?;
    let h1 = text(c, "h1").await?;
    if h1 != "Page not found" {
        return Err(format!("404 page h1 is {h1:?}").into());
    }
    screenshot(c, "08-not-found").await?;
    Ok(())
}

async fn keyboard_reaches_the_skip_link(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    c.goto(&s.url("/ui")).await?;
    let body = css(c, "body", 5).await?;
    let tab: char = Key::Tab.into();
    body.send_keys(&tab.to_string()).await?;
    let focused = c.active_element().await?.text().await?;
    if focused != "Skip to main content" {
        return Err(format!("first Tab focuses {focused:?}, want the skip link").into());
    }
    Ok(())
}

async fn pathway_diagram_refreshes(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    c.goto(&s.url("/ui/pathways")).await?;
    let link = css(c, r#"nav[aria-label="Pathways"] a"#, 5).await?;
    link.click().await?;
    css(c, "#pathway-diagram svg g.bpmn-shape", 10).await?;
    screenshot(c, "07-pathway").await?;
    // htmx swaps the whole fragment every 5 s: a mark set now disappears.
    c.execute(
        "document.getElementById('pathway-diagram').setAttribute('data-e2e','old');",
        vec![],
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let v = c
            .execute("var e=document.getElementById('pathway-diagram'); return e ? e.getAttribute('data-e2e') : 'missing';", vec![])
            .await?;
        if v.is_null() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("pathway diagram was not refreshed within 12 s ({v})").into());
        }
    }
}

/// Fires patient-view for patients in turn until one gets a card, then
/// overrides the card with the first offered reason. Returns that reason.
async fn sandbox_card_and_override(
    c: &Client,
    s: &BedsideProcess,
) -> Result<Option<String>, Error> {
    c.goto(&s.url("/ui/sandbox")).await?;
    css(c, "#patient-list", 5).await?;
    let mut hrefs = Vec::new();
    for a in c.find_all(Locator::Css("#patient-list a")).await? {
        if let Some(h) = a.attr("href").await? {
            hrefs.push(h);
        }
    }
    if hrefs.is_empty() {
        return Err("the sandbox lists no patients".into());
    }
    let mut found = false;
    for h in hrefs.iter().take(40) {
        c.goto(&s.url(h)).await?;
        // The sepsis use case's service: its model is certified, so its
        // cards alert and an override counts on its dashboard.
        css(
            c,
            r#"button.fire[data-service-id="sepsis-screening-patient-view"]"#,
            5,
        )
        .await?
        .click()
        .await?;
        let status = wait_text(
            c,
            "#hook-status",
            |t| t.contains("card") || t.starts_with("Failed"),
            20,
        )
        .await?;
        if status.starts_with("Failed") {
            return Err(format!("patient-view failed: {status}").into());
        }
        if !c
            .find_all(Locator::Css("article.cds-card"))
            .await?
            .is_empty()
        {
            found = true;
            break;
        }
    }
    if !found {
        return Err(format!("no card for any of {} patients", hrefs.len().min(40)).into());
    }
    // The card shows as an EHR shows it: indicator, summary, source link.
    let summary = text(c, "article.cds-card .card-summary").await?;
    if summary.trim().is_empty() {
        return Err("card without a summary".into());
    }
    css(c, "article.cds-card .indicator", 2).await?;
    screenshot(c, "09-sandbox-card").await?;

    let select = css(c, "article.cds-card select.override-reason", 2).await?;
    let options = select.find_all(Locator::Css("option")).await?;
    let reason = if options.len() > 1 {
        let label = options[1].text().await?;
        select.select_by_index(1).await?;
        Some(label)
    } else {
        None
    };
    css(c, "article.cds-card textarea.override-comment", 2)
        .await?
        .send_keys("browser test override")
        .await?;
    css(c, "article.cds-card button.override-submit", 2)
        .await?
        .click()
        .await?;
    let fb = wait_text(
        c,
        "article.cds-card .feedback-status",
        |t| t.starts_with("Feedback recorded") || t.starts_with("Feedback failed"),
        15,
    )
    .await?;
    if !fb.starts_with("Feedback recorded") {
        return Err(format!("override feedback: {fb}").into());
    }
    screenshot(c, "10-override-sent").await?;

    // order-sign on the same patient answers too (cards or none).
    if let Ok(b) = c
        .find(Locator::Css(r#"button.fire[data-hook="order-sign"]"#))
        .await
    {
        b.click().await?;
        let st = wait_text(
            c,
            "#hook-status",
            |t| t.starts_with("order-sign") || t.starts_with("Failed"),
            20,
        )
        .await?;
        if st.starts_with("Failed") {
            return Err(format!("order-sign failed: {st}").into());
        }
    }
    Ok(reason)
}

async fn override_shows_on_dashboard(
    c: &Client,
    s: &BedsideProcess,
    reason: Option<&str>,
) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(20);
    // The demo serves several use cases: the override is on the dashboard
    // of the card's model, whichever of the served models that is.
    let mut tries = ["sepsis-demo", "deterioration-demo"].iter().cycle();
    loop {
        let model = tries.next().expect("a cycle never ends");
        c.goto(&s.url(&format!("/ui?model={model}"))).await?;
        let chart = text(c, "#override-reasons").await.unwrap_or_default();
        let table: String = c
            .execute(
                "var e=document.querySelector('#override-reasons'); return e ? e.textContent : '';",
                vec![],
            )
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let seen = match reason {
            Some(r) => table.contains(r),
            None => !chart.contains("Nothing recorded"),
        };
        if seen {
            screenshot(c, "11-dashboard-after-override").await?;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "override ({reason:?}) not on the dashboard after 20 s; chart text: {table:?}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Starts the escalation pathway for the first patient from the sandbox
/// (the demo cohort's policy escalates nobody), which lands on the
/// worklist with the new task.
async fn start_a_pathway(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    c.goto(&s.url("/ui/sandbox")).await?;
    let mut patients = Vec::new();
    for a in c.find_all(Locator::Css("#patient-list a")).await? {
        if let Some(h) = a.attr("href").await? {
            patients.push(h);
        }
    }
    // The replayed cohorts have put some patients on a pathway already
    // (starting again is refused, 409): take the first that is not.
    let mut last = String::from("no patient in the sandbox list");
    for href in patients.iter().take(40) {
        c.goto(&s.url(href)).await?;
        let Ok(button) = css(c, "form.start-pathway button", 2).await else {
            continue;
        };
        button.click().await?;
        match css(c, "li.task", 5).await {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{href}: {e}"),
        }
    }
    Err(format!("no task in the worklist after starting a pathway: {last}").into())
}

async fn complete_a_task(c: &Client, s: &BedsideProcess) -> Result<(), Error> {
    start_a_pathway(c, s).await?;
    // The pathway view counts waiting instances at their steps (the
    // replayed demo cohort has started some already, so any count >= 1).
    // (with several pathways /ui/pathways is an index: open the
    // deterioration one, whose replayed instances wait at their Tasks; a
    // sepsis escalation of the demo cohort ends at once, its bundle being
    // already under way)
    c.goto(&s.url("/ui/pathways/deterioration-escalation"))
        .await?;
    css(
        c,
        "#pathway-diagram g.bpmn-shape:not([data-waiting=\"0\"])",
        10,
    )
    .await
    .map_err(|e| format!("the pathway view shows no waiting instance: {e}"))?;
    css(c, "#pathway-diagram g.badge", 2).await?;
    screenshot(c, "14-pathway-waiting").await?;
    c.goto(&s.url("/ui/worklist")).await?;
    css(c, "#worklist", 5).await?;
    // Claim the first task, so it can be completed.
    if c.find(Locator::Css("li.task button.btn-complete"))
        .await
        .is_err()
    {
        css(c, "li.task button.btn-claim", 5).await?.click().await?;
        wait_text(
            c,
            "#worklist .flash",
            |t| t.starts_with("Task claimed") || t.starts_with("The action failed"),
            10,
        )
        .await?;
    }
    // The countdown script is live.
    if let Ok(t) = c.find(Locator::Css("time[data-deadline]")).await {
        let before = t.text().await?;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let after = c
            .find(Locator::Css("time[data-deadline]"))
            .await?
            .text()
            .await?;
        if before == after && !before.contains(" d ") {
            return Err(format!("countdown did not tick: {before:?}").into());
        }
    }
    let button = css(c, "li.task button.btn-complete", 10)
        .await
        .map_err(|e| format!("no task with a Complete button in the worklist: {e}"))?;
    let id: String = c
        .execute(
            "return document.querySelector('li.task button.btn-complete').closest('li.task').getAttribute('data-task-id');",
            vec![],
        )
        .await?
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The step's decision: the nurse escalates (the physician's review
    // opens at once).
    let li = format!("li.task[data-task-id=\"{id}\"]");
    if let Ok(sel) = c
        .find(Locator::Css(&format!("{li} select[name=decision]")))
        .await
    {
        // Only the nurse's step offers "escalate"; another keeps its first.
        let _ = sel.select_by_value("escalate").await;
    }
    screenshot(c, "12-worklist-before").await?;
    button.click().await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let state = c
            .execute(
                "var id=arguments[0]; var li=[].find.call(document.querySelectorAll('li.task'), function(l){return l.getAttribute('data-task-id')===id;});\
                 if(!li) return 'gone'; var s=li.querySelector('dd.status'); return s ? s.textContent : '';",
                vec![serde_json::json!(id)],
            )
            .await?;
        let st = state.as_str().unwrap_or_default();
        if st == "gone" || st == "completed" {
            screenshot(c, "13-worklist-completed").await?;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("task {id} still {st:?} 15 s after Complete").into());
        }
    }
}

async fn wait_text(
    c: &Client,
    sel: &str,
    done: impl Fn(&str) -> bool,
    secs: u64,
) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = match c.find(Locator::Css(sel)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if done(&t) {
            return Ok(t);
        }
        if Instant::now() > deadline {
            return Err(format!("{sel} text still {t:?} after {secs} s").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
