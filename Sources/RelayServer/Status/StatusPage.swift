import Foundation
import RelayCore

/// The HTML of `GET /status` and of its login form: self-contained (inline CSS, no script, nothing fetched), every
/// value escaped (docs/operations.md, "Status page").
enum StatusPage {
    /// Seconds between the page's own reloads.
    static let refreshSeconds = 5

    /// The status page for `snapshot`; `csrf` goes into every form.
    static func render(_ snapshot: StatusSnapshot, csrf: String) -> String {
        var html = head(title: "bucket-relay status", refresh: true)
        html += "<header><h1>bucket-relay</h1><span class=muted>relay \(escape(snapshot.instance)) · "
        html += "status at \(escape(shortTime(snapshot.generatedAt)))"
        html += " · refreshes every \(refreshSeconds) s</span>"
        html += "<form method=post action=\"/status/logout\" class=right>"
        html += "<button class=link type=submit>Sign out</button></form></header>"
        if let replay = snapshot.lastReplay {
            let what =
                switch replay.scope {
                case "one": "delivery \(escape(replay.deliveryID ?? "-"))"
                case "target": "target \(escape(replay.target ?? "-"))"
                default: "all dead letters"
                }
            let cls = replay.error != nil || replay.failed > 0 ? "notice bad" : "notice good"
            html += "<p class=\"\(cls)\" id=last-replay>Replay of \(what) at \(escape(shortTime(replay.time))): "
            html += "sent \(replay.sent), failed \(replay.failed), not sendable \(replay.unsendable)"
            if replay.neverRouted > 0 { html += ", never routed (kept) \(replay.neverRouted)" }
            if let error = replay.error { html += " — \(escape(error))" }
            html += "</p>"
        }
        html += summary(snapshot)
        html += targetsSection(snapshot)
        html += deadLettersSection(snapshot, csrf: csrf)
        html += rulesSection(snapshot.rules)
        html += "</main></body></html>\n"
        return html
    }

    /// One line for a glance: targets, open circuits, pending deliveries, dead letters, last reload.
    private static func summary(_ snapshot: StatusSnapshot) -> String {
        let open = snapshot.targets.filter { $0.circuit != "closed" }.count
        let pending = snapshot.targets.reduce(0) { $0 + $1.pending }
        let letters = snapshot.deadLetters.count
        var html = "<div class=summary id=summary>"
        html += "<div><b>\(snapshot.targets.count)</b><span>targets</span></div>"
        html += "<div class=\"\(open > 0 ? "bad-card" : "")\"><b>\(open)</b><span>circuits open</span></div>"
        html += "<div><b>\(pending)</b><span>pending</span></div>"
        let more = letters >= snapshot.deadLetterLimit ? "+" : ""
        html +=
            "<div class=\"\(letters > 0 ? "bad-card" : "")\"><b>\(letters)\(more)</b><span>dead letters</span></div>"
        let reloadFailed = snapshot.rules.lastReloadError != nil
        html += "<div class=\"\(reloadFailed ? "bad-card" : "")\"><b>\(reloadFailed ? "failed" : "ok")</b>"
        html += "<span>last rules reload</span></div></div>"
        return html
    }

    private static func targetsSection(_ snapshot: StatusSnapshot) -> String {
        var html = "<section><h2>Targets</h2><table id=targets><thead><tr>"
        html += "<th>Target</th><th>Circuit</th><th class=num>Pending</th><th>Oldest pending</th>"
        html += "<th>Attempts · failures, last \(windowText(snapshot))</th><th>Last error</th></tr></thead><tbody>"
        if snapshot.targets.isEmpty {
            html += "<tr><td colspan=6 class=muted>No targets in the rules.</td></tr>"
        }
        for target in snapshot.targets {
            html += "<tr data-target=\"\(escape(target.name))\" data-circuit=\"\(escape(target.circuit))\""
            html += " data-pending=\"\(target.pending)\">"
            html += "<td><strong>\(escape(target.name))</strong>"
            if let url = target.url {
                html += "<div class=\"muted mono\">\(escape(url))</div>"
            } else {
                html += "<div class=muted>not in the rules in force</div>"
            }
            html += "</td><td><span class=\"badge \(badgeClass(target.circuit))\">"
            html += "\(escape(circuitText(target.circuit)))</span></td>"
            html += "<td class=\"num pending\">\(target.pending)</td><td>"
            if let age = target.oldestPendingAgeSeconds {
                html += "<span title=\"\(escape(target.oldestPendingAt ?? ""))\">\(durationText(age))</span>"
            } else {
                html += "<span class=muted>—</span>"
            }
            html += "</td><td>\(chart(target.history))<div class=small>\(target.attempts) attempts · "
            html +=
                "<span class=\"\(target.failures > 0 ? "bad-text" : "")\">\(target.failures) failed</span></div></td>"
            html += "<td>"
            if let error = target.lastError {
                html += "<span class=mono>\(escape(error))</span>"
                html += "<div class=\"muted small\">\(escape(shortTime(target.lastErrorAt ?? "")))</div>"
            } else {
                html += "<span class=muted>—</span>"
            }
            html += "</td></tr>"
        }
        html += "</tbody></table></section>"
        return html
    }

    private static func deadLettersSection(_ snapshot: StatusSnapshot, csrf: String) -> String {
        var html = "<section><h2>Recent dead letters</h2>"
        let letters = snapshot.deadLetters
        if letters.isEmpty {
            html += "<p class=muted id=no-dead-letters>No dead letters.</p></section>"
            return html
        }
        html += "<div class=actions>"
        html += replayForm(csrf: csrf, scope: "all", field: nil, label: "Replay all", id: "replay-all")
        var seen = Set<String>()
        for letter in letters where letter.replayable {
            guard let target = letter.target, seen.insert(target).inserted else { continue }
            html += replayForm(
                csrf: csrf,
                scope: "target",
                field: ("target", target),
                label: "Replay all for \(target)",
                id: "replay-target-\(target)"
            )
        }
        html += "</div><table id=dead-letters><thead><tr><th>Time</th><th>Reason</th><th>Target</th><th>Key</th>"
        html += "<th>Last error</th><th></th></tr></thead><tbody>"
        for letter in letters {
            html += "<tr data-target=\"\(escape(letter.target ?? ""))\"><td class=nowrap>"
            html += "<span title=\"\(escape(letter.time))\">\(escape(shortTime(letter.time)))</span></td>"
            html += "<td><span class=\"badge bad\">\(escape(letter.reason))</span></td>"
            html += "<td>\(escape(letter.target ?? "—"))"
            if let rule = letter.rule { html += "<div class=\"muted small\">rule \(escape(rule))</div>" }
            html += "</td><td class=mono>\(escape(shownKey(letter) ?? "—"))</td><td class=mono>"
            html += escape(letter.lastError ?? letter.lastStatus.map { "HTTP \($0)" } ?? "—")
            if let attempts = letter.attempts { html += "<div class=\"muted small\">\(attempts) attempt(s)</div>" }
            html += "</td><td>"
            if letter.replayable, let id = letter.deliveryID {
                html += replayForm(csrf: csrf, scope: "one", field: ("deliveryID", id), label: "Replay", id: nil)
            }
            html += "</td></tr>"
        }
        html += "</tbody></table><p class=\"muted small\">The newest \(snapshot.deadLetterLimit) lines of "
        html += "dead-letter.jsonl at most. Replay sends through this relay with the rules in force and removes the "
        html += "lines whose target answers 2xx.</p></section>"
        return html
    }

    private static func rulesSection(_ rules: StatusSnapshot.RulesStatus) -> String {
        var html = "<section><h2>Rules</h2><dl id=rules>"
        html += "<dt>Path</dt><dd class=mono>\(escape(rules.path))</dd>"
        html += "<dt>Loaded</dt><dd>\(escape(shortTime(rules.loadedAt)))</dd>"
        html += "<dt>Counts</dt><dd>\(rules.rules) rule(s), \(rules.targets) target(s)</dd>"
        html += "<dt>Files</dt><dd class=mono>\(rules.files.map(escape).joined(separator: "<br>"))</dd>"
        html += "<dt>Last reload</dt><dd>"
        if let errors = rules.lastReloadError {
            html += "<span class=\"badge bad\">failed</span> at \(escape(rules.lastReloadErrorAt ?? "")); "
            html += "the rules above stay in force<pre id=reload-error>"
            html += errors.map(escape).joined(separator: "\n")
            html += "</pre>"
        } else {
            html += "<span class=\"badge good\">ok</span>"
        }
        html += "</dd></dl></section>"
        return html
    }

    private static func replayForm(
        csrf: String,
        scope: String,
        field: (name: String, value: String)?,
        label: String,
        id: String?
    ) -> String {
        var html = "<form method=post action=\"/status/replay\" class=inline>"
        html += "<input type=hidden name=csrf value=\"\(escape(csrf))\">"
        html += "<input type=hidden name=scope value=\"\(escape(scope))\">"
        if let field {
            html += "<input type=hidden name=\"\(escape(field.name))\" value=\"\(escape(field.value))\">"
        }
        html += "<button type=submit"
        if let id { html += " id=\"\(escape(id))\"" }
        html += ">\(escape(label))</button></form>"
        return html
    }

    /// An inline SVG bar chart: one bar per bucket, failures in red on top of successes in green.
    private static func chart(_ history: StatusSnapshot.History) -> String {
        let count = history.attempts.count
        let barWidth = 4
        let height = 32
        let width = max(count * barWidth, 1)
        let peak = max(history.attempts.max() ?? 0, 1)
        var svg = "<svg class=chart width=\(width) height=\(height) viewBox=\"0 0 \(width) \(height)\" role=img"
        svg += " aria-label=\"attempts per \(history.bucketSeconds) s\">"
        svg += "<rect x=0 y=0 width=\(width) height=\(height) class=chart-bg></rect>"
        for index in 0..<count {
            let attempts = history.attempts[index]
            guard attempts > 0 else { continue }
            let failures = index < history.failures.count ? history.failures[index] : 0
            let total = max(1, attempts * height / peak)
            let failed = failures * total / max(attempts, 1)
            let x = index * barWidth
            if total - failed > 0 {
                svg += "<rect x=\(x) y=\(height - total) width=\(barWidth - 1) height=\(total - failed) class=ok-bar>"
                svg += "</rect>"
            }
            if failed > 0 {
                svg += "<rect x=\(x) y=\(height - failed) width=\(barWidth - 1) height=\(failed) class=fail-bar></rect>"
            }
        }
        svg += "</svg>"
        let minutes = history.bucketSeconds * count / 60
        svg +=
            "<div class=\"axis small muted\" style=\"width:\(width)px\"><span>−\(minutes) min</span><span>now</span></div>"
        return svg
    }

    /// The login form; `message` says why it is shown again.
    static func login(message: String?) -> String {
        var html = head(title: "bucket-relay status — sign in", refresh: false)
        html += "<section class=login><h2>Sign in</h2>"
        html += "<p class=muted>The status page needs the relay's admin token (<code>--admin-token</code>, or "
        html += "<code>--auth-token</code> when no admin token is set).</p>"
        if let message { html += "<p class=\"notice bad\" id=login-error>\(escape(message))</p>" }
        html += "<form method=post action=\"/status/login\"><label for=token>Token</label>"
        html += "<input type=password id=token name=token autocomplete=current-password autofocus required>"
        html += "<button type=submit id=sign-in>Sign in</button></form></section></main></body></html>\n"
        return html
    }

    /// A page that says the status page is switched off, and how to switch it on.
    static func disabled() -> String {
        var html = head(title: "bucket-relay status", refresh: false)
        html += "<section class=login><h2>Status page disabled</h2><p>Set <code>--admin-token</code> "
        html += "(<code>RELAY_ADMIN_TOKEN</code>) or <code>--auth-token</code> to use it.</p></section>"
        html += "</main></body></html>\n"
        return html
    }

    private static func head(title: String, refresh: Bool) -> String {
        var html = "<!doctype html><html lang=en><head><meta charset=utf-8>"
        html += "<meta name=viewport content=\"width=device-width, initial-scale=1\">"
        if refresh { html += "<meta http-equiv=refresh content=\"\(refreshSeconds)\">" }
        html += "<title>\(escape(title))</title><style>\(css)</style></head><body><main>"
        return html
    }

    private static let css = """
        :root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--good:#1a7f37;--bad:#cf222e;--warn:#9a6700}
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;\
        color:var(--fg);background:#fff}main{max-width:1200px;margin:0 auto;padding:16px 24px}
        header{display:flex;align-items:baseline;gap:16px;border-bottom:1px solid var(--line);padding-bottom:8px}
        h1{font-size:20px;margin:0}h2{font-size:16px;margin:24px 0 8px}.right{margin-left:auto}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:6px 8px;\
        border-bottom:1px solid var(--line)}th{background:var(--bg);font-weight:600;font-size:12px;\
        color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
        .num{text-align:right;font-variant-numeric:tabular-nums}.mono{font-family:ui-monospace,monospace;\
        font-size:12px;overflow-wrap:anywhere}.muted{color:var(--muted)}.small{font-size:12px}.nowrap{white-space:nowrap}
        .badge{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
        .badge.good{background:var(--good)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
        .bad-text{color:var(--bad);font-weight:600}
        .notice{padding:8px 12px;border-radius:6px}.notice.good{background:#dafbe1}.notice.bad{background:#ffebe9}
        .chart{display:block}.axis{display:flex;justify-content:space-between;font-size:10px}
        .summary{display:flex;gap:12px;margin:16px 0 4px}.summary div{flex:1;border:1px solid var(--line);\
        border-radius:8px;padding:8px 12px}.summary b{display:block;font-size:22px}.summary span{color:var(--muted);\
        font-size:12px}.summary .bad-card{border-color:var(--bad);background:#fff5f5}.summary .bad-card b{color:var(--bad)}
        .chart-bg{fill:var(--bg)}.ok-bar{fill:#4ac26b}.fail-bar{fill:var(--bad)}
        .actions{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:8px}form.inline{display:inline}
        button{font:inherit;padding:3px 12px;border:1px solid var(--line);border-radius:6px;background:var(--bg);\
        cursor:pointer}button:hover{background:#eaeef2}button.link{border:0;background:none;color:#0969da;padding:0}
        dl{display:grid;grid-template-columns:120px 1fr;gap:4px 12px;margin:0}dt{color:var(--muted)}dd{margin:0}
        pre{background:#ffebe9;padding:8px;white-space:pre-wrap;font-size:12px}
        .login{max-width:420px;margin:64px auto}.login input{display:block;width:100%;padding:6px;margin:6px 0 12px;\
        font:inherit;border:1px solid var(--line);border-radius:6px}
        """

    private static func windowText(_ snapshot: StatusSnapshot) -> String {
        let history = snapshot.targets.first?.history
        let seconds = (history?.bucketSeconds ?? 10) * (history?.attempts.count ?? 60)
        return seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds) s"
    }

    private static func circuitText(_ state: String) -> String {
        switch state {
        case "open": "open (held back)"
        case "half_open": "half open (probing)"
        default: "closed (healthy)"
        }
    }

    private static func badgeClass(_ state: String) -> String {
        switch state {
        case "open": "bad"
        case "half_open": "warn"
        default: "good"
        }
    }

    /// `2026-12-01T11:13:29.916Z` as `2026-12-01 11:13:29Z`: the full time stays in the element's title.
    static func shortTime(_ iso: String) -> String {
        var text = iso.replacingOccurrences(of: "T", with: " ")
        if let dot = text.firstIndex(of: "."), text.hasSuffix("Z") {
            text = String(text[..<dot]) + "Z"
        }
        return text
    }

    /// `42 s`, `5 min 3 s`, `2 h 10 min`.
    static func durationText(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min \(seconds % 60) s" }
        if seconds < 86400 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        return "\(seconds / 86400) d \(seconds % 86400 / 3600) h"
    }

    /// The key a person reads: `bucket/key` decoded as the rules matched it (`photos/uploads/2026/cat.jpg`, not the
    /// `uploads%2F2026%2Fcat.jpg` MinIO sends), control characters and bidirectional overrides written as `\u{..}`;
    /// the payload's key as it is when no record could be read. Not HTML-escaped: callers escape it.
    static func shownKey(_ letter: StatusSnapshot.DeadLetterStatus) -> String? {
        guard let key = letter.decodedKey else { return letter.key.map(LogText.escaped) }
        return LogText.escaped(letter.bucket.map { $0 + "/" + key } ?? key)
    }

    /// `text` with `& < > " '` escaped for HTML text and quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
