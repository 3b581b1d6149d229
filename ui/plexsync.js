// The PlexSync page in Stash's web UI, at /plugins/plexsync. Plain JavaScript, no build step:
// it uses what Stash gives plugins on window.PluginApi (React 17, react-bootstrap 1.6,
// react-router-dom 5). Reads go through runPluginOperation (quiet, so polling writes nothing
// to the Stash log); long actions run as tasks (runPluginTask), followed with findJob, their
// result then read from queue_status.last_runs (a Stash Job carries no output).
// Nothing here may break Stash's other pages: every patch and render is guarded, and an error
// inside the page shows as an error box inside the page.
(function () {
  "use strict";

  var api = window.PluginApi;
  if (!api || !api.React || !api.register) {
    return; // not Stash's UI, or one without the plugin API (older than v0.26.0)
  }
  var React = api.React;
  var h = React.createElement;
  var libraries = api.libraries || {};
  var Bootstrap = libraries.Bootstrap || {};
  var RouterDOM = libraries.ReactRouterDOM || {};
  var PLUGIN_ID = "PlexSync";
  var ROUTE = "/plugins/plexsync";
  var POLL_MS = 3000;
  var JOB_POLL_MS = 1000;
  var DONE = { FINISHED: true, CANCELLED: true, FAILED: true };

  // -- talking to Stash --------------------------------------------------------------------

  function graphqlUrl() {
    var base = document.querySelector("base");
    var root = (base && base.getAttribute("href")) || "/";
    return root.replace(/\/?$/, "/") + "graphql";
  }

  function gql(query, variables) {
    return fetch(graphqlUrl(), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (response) {
      return response.json().then(
        function (body) {
          if (body && body.errors && body.errors.length) {
            throw new Error(String(body.errors[0].message || "Stash refused the request."));
          }
          if (!response.ok || !body || !body.data) {
            throw new Error("Stash answered HTTP " + response.status + ".");
          }
          return body.data;
        },
        function () {
          throw new Error("Stash answered HTTP " + response.status + " with no JSON.");
        }
      );
    });
  }

  var OPERATION =
    'mutation PlexSyncOperation($args: Map) { runPluginOperation(plugin_id: "' +
    PLUGIN_ID +
    '", args: $args) }';
  // The page's own mutation: Stash's StashService.mutateRunPluginTask sends its args as `args`
  // while declaring `$args_map`, so they would be dropped.
  var TASK =
    'mutation PlexSyncTask($task: String!, $args: Map) { runPluginTask(plugin_id: "' +
    PLUGIN_ID +
    '", task_name: $task, args_map: $args) }';
  var JOB = "query PlexSyncJob($id: ID!) { findJob(input: {id: $id}) { id status progress error } }";

  function operation(args) {
    return gql(OPERATION, { args: args }).then(function (data) {
      return data.runPluginOperation;
    });
  }

  function runTask(name, args) {
    return gql(TASK, { task: name, args: args || {} }).then(function (data) {
      return String(data.runPluginTask);
    });
  }

  function findJob(id) {
    return gql(JOB, { id: id }).then(function (data) {
      return data.findJob;
    });
  }

  // -- words and numbers --------------------------------------------------------------------

  function seconds(text) {
    var t = text ? Date.parse(text) : NaN;
    return isNaN(t) ? null : t / 1000;
  }

  function duration(s) {
    if (s === null || s === undefined || isNaN(s)) return "n/a";
    if (s < 10) return (Math.round(s * 10) / 10).toString().replace(/\.0$/, "") + " s";
    var total = Math.round(s);
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    if (hours) return hours + "h " + minutes + "m";
    if (minutes) return minutes + "m " + (total % 60) + "s";
    return total + " s";
  }

  function when(text) {
    var s = seconds(text);
    return s === null ? "never" : new Date(s * 1000).toLocaleString();
  }

  function counted(n, noun) {
    return n + " " + noun + (n === 1 ? "" : "s");
  }

  var BADGE = { closed: "success", half_open: "warning", open: "danger" };
  var STATE_WORDS = { closed: "CLOSED", half_open: "HALF OPEN", open: "OPEN" };

  // -- building blocks ----------------------------------------------------------------------

  function Section(props) {
    return h(
      "section",
      { className: "plexsync-section" + (props.wide ? " plexsync-wide" : ""), "aria-label": props.title },
      h("h5", null, props.title),
      props.children
    );
  }

  function Rows(props) {
    return h(
      "dl",
      { className: "plexsync-rows" },
      props.rows.map(function (row) {
        return h(
          React.Fragment,
          { key: row[0] },
          h("dt", null, row[0]),
          h("dd", null, row[1])
        );
      })
    );
  }

  function Badge(props) {
    var Component = Bootstrap.Badge;
    if (Component) return h(Component, { variant: props.variant, className: "plexsync-badge" }, props.children);
    return h("span", { className: "badge badge-" + props.variant + " plexsync-badge" }, props.children);
  }

  function Button(props) {
    var Component = Bootstrap.Button;
    var attrs = {
      variant: props.variant || "secondary",
      size: "sm",
      disabled: props.disabled,
      onClick: props.onClick,
      className: "plexsync-button",
    };
    if (Component) return h(Component, attrs, props.children);
    return h("button", { type: "button", disabled: props.disabled, onClick: props.onClick, className: "btn btn-sm btn-" + attrs.variant + " plexsync-button" }, props.children);
  }

  function ErrorBox(props) {
    return h("div", { className: "alert alert-danger plexsync-error", role: "alert" }, props.children);
  }

  // -- the panels ---------------------------------------------------------------------------

  function Circuit(props) {
    var breaker = props.status.breaker || {};
    var state = String(breaker.state || "closed");
    var since = seconds(breaker.opened_at);
    var probe = seconds(breaker.next_probe_at);
    var rows = [];
    if (state !== "closed") {
      rows.push(["For", since === null ? "n/a" : duration(props.now - since)]);
      rows.push(["Why", breaker.last_error || "Plex stopped answering"]);
      rows.push([
        "Next health probe",
        probe === null ? "when the trial ends" : "in " + duration(Math.max(0, probe - props.now)),
      ]);
    } else {
      rows.push(["Plex", "answers; saves reach it as they come"]);
    }
    return h(
      Section,
      { title: "Circuit" },
      h(Badge, { variant: BADGE[state] || "secondary" }, STATE_WORDS[state] || state),
      h(Rows, { rows: rows })
    );
  }

  function Queue(props) {
    var queue = props.status.queue || {};
    var drainer = props.status.drainer || {};
    var recovery = props.status.recovery || {};
    var rows = [
      ["Waiting", counted(queue.pending || 0, "scene")],
      ["In flight", String(queue.in_flight || 0)],
      ["Waiting for a retry", String(queue.waiting_retry || 0)],
      [
        "Drainer",
        drainer.running
          ? "running (pid " + drainer.pid + ", since " + when(drainer.since) + ")"
          : "not running",
      ],
      ["Last recovery", when(recovery.last_recovery_at)],
    ];
    // Renamed, merged or deleted tags, performers and studios still being turned into scenes.
    (props.status.fan_outs || []).forEach(function (fanOut) {
      rows.push(["Fanning out", String(fanOut.message || "")]);
    });
    var ramp = null;
    if (recovery.ramp_active) {
      var progress = Math.round(100 * Number(recovery.ramp_progress || 0));
      var Bar = Bootstrap.ProgressBar;
      var rate = Math.round(10 * Number(recovery.current_rate || 0)) / 10;
      var label = "Recovery ramp " + progress + " %, now " + rate + " jobs/s";
      ramp = h(
        "div",
        { className: "plexsync-ramp" },
        Bar ? h(Bar, { now: progress, label: progress + " %" }) : null,
        h("div", null, label)
      );
    }
    return h(Section, { title: "Queue" }, h(Rows, { rows: rows }), ramp);
  }

  function DeadLetters(props) {
    var dlq = props.status.dlq || {};
    var types = dlq.by_error_type || {};
    var names = Object.keys(types);
    var newest = dlq.newest || [];
    return h(
      Section,
      { title: "Dead letters" },
      h(Rows, {
        rows: [["Total", String(dlq.total || 0)]].concat(
          names.map(function (name) {
            return [name, String(types[name])];
          })
        ),
      }),
      newest.length
        ? h(
            "ul",
            { className: "plexsync-list" },
            newest.map(function (entry, index) {
              return h(
                "li",
                { key: index },
                "Scene " + entry.scene_id + ": " + entry.error_type + " (" + when(entry.last_failure_at) + ") ",
                h("span", { className: "plexsync-muted" }, entry.message)
              );
            })
          )
        : null
    );
  }

  function Timeline(props) {
    var outages = (props.report && props.report.outages) || [];
    var metrics = (props.report && props.report.metrics) || {};
    var chosen = React.useState(null);
    if (!outages.length) {
      return h(Section, { title: "Outages" }, h("p", null, "No outage recorded yet."));
    }
    var longest = Math.max.apply(
      null,
      outages.map(function (o) {
        return Number(o.duration_seconds) || 0;
      }).concat([1])
    );
    var picked = outages.filter(function (o) {
      return o.id === chosen[0];
    })[0];
    return h(
      Section,
      { title: "Outages" },
      h(Rows, {
        rows: [
          ["Recorded", counted(metrics.count || 0, "outage")],
          ["Mean time to recover", duration(metrics.mttr_seconds)],
          ["Mean time between", duration(metrics.mtbf_seconds)],
          [
            "Availability",
            metrics.availability_percent === null || metrics.availability_percent === undefined
              ? "n/a"
              : Number(metrics.availability_percent).toFixed(2) + " %",
          ],
        ],
      }),
      h(
        "div",
        { className: "plexsync-timeline" },
        outages.map(function (o) {
          var width = Math.max(2, Math.round((100 * (Number(o.duration_seconds) || 0)) / longest));
          var text =
            "Outage " + o.id + ": " + when(o.started_at) + " to " +
            (o.ended_at ? when(o.ended_at) : "now") + ", " + counted(o.jobs_affected || 0, "scene") +
            " affected, first error " + o.first_error;
          return h("button", {
            key: o.id,
            type: "button",
            className: "plexsync-bar" + (o.ended_at ? "" : " plexsync-bar-ongoing"),
            style: { width: width + "%" },
            title: text,
            "aria-label": text,
            onClick: function () {
              chosen[1](o.id === chosen[0] ? null : o.id);
            },
          });
        })
      ),
      picked
        ? h(
            "p",
            { className: "plexsync-picked" },
            "Outage " + picked.id + ": started " + when(picked.started_at) + ", " +
              (picked.ended_at ? "ended " + when(picked.ended_at) : "still going") + ", " +
              duration(picked.duration_seconds) + ", " + counted(picked.jobs_affected || 0, "scene") +
              " affected, first error " + picked.first_error + "."
          )
        : null
    );
  }

  function Events(props) {
    var events = (props.status.recent_events || []).slice().reverse();
    if (!events.length) return null;
    return h(
      Section,
      { title: "Recent events" },
      h(
        "ul",
        { className: "plexsync-list" },
        events.map(function (event, index) {
          return h("li", { key: index }, h("span", { className: "plexsync-muted" }, when(event.at) + " "), event.message);
        })
      )
    );
  }

  function SettingsInForce(props) {
    var settings = props.status.settings || {};
    var names = Object.keys(settings).sort();
    return h(
      Section,
      { title: "Settings in force", wide: true },
      h(
        "ul",
        { className: "plexsync-settings" },
        names.map(function (name) {
          var value = settings[name];
          return h(
            "li",
            { key: name },
            h("span", { className: "plexsync-muted" }, name + " "),
            value === "" ? "(empty)" : String(value)
          );
        })
      )
    );
  }

  // -- the actions ---------------------------------------------------------------------------

  function lastRun(mode) {
    return operation({ mode: "queue_status", quiet: "true" }).then(function (status) {
      return (status && status.last_runs && status.last_runs[mode]) || null;
    });
  }

  // Runs a task, follows its job to the end, then reads its result from last_runs: a run that
  // finished at the same moment as the one seen before starting is an older one, not this.
  function followTask(name, args, mode, report) {
    report({ busy: true, message: name + " is queued in Stash's task list…" });
    return lastRun(mode).then(function (before) {
      var seen = before ? before.finished_at : null;
      return runTask(name, args).then(function (id) {
        return new Promise(function (resolve, reject) {
          function look() {
            findJob(id).then(function (job) {
              if (job && !DONE[job.status]) {
                var part = job.progress ? " " + Math.round(job.progress * 100) + " %" : "";
                report({ busy: true, message: name + " is running" + part + "…" });
                window.setTimeout(look, JOB_POLL_MS);
                return;
              }
              if (job && job.status !== "FINISHED") {
                var how = String(job.status).toLowerCase();
                reject(new Error(name + " ended " + how + (job.error ? ": " + job.error : ".")));
                return;
              }
              lastRun(mode).then(function (run) {
                resolve(run && run.finished_at !== seen ? run : null);
              }, reject);
            }, reject);
          }
          look();
        });
      });
    });
  }

  function describeRun(name, run) {
    if (!run) return name + " finished.";
    if (run.error) return name + " answered an error: " + run.error;
    var result = run.result || {};
    if ("synced" in result) {
      return name + ": " + result.synced + " synced, " + result.failed + " failed, " + result.remaining + " remaining.";
    }
    if ("recovered" in result) {
      return name + ": " + result.recovered + " back in the queue (" + result.already_queued + " were already queued).";
    }
    return name + " finished.";
  }

  function Checks(props) {
    return h(
      "ul",
      { className: "plexsync-list plexsync-checks" },
      props.checks.map(function (check) {
        var word = check.status === "ok" ? "OK" : check.status === "fail" ? "FAIL" : "SKIPPED";
        return h(
          "li",
          { key: check.name, className: "plexsync-check-" + check.status },
          h("strong", null, word + " " + check.name + ": "),
          check.detail,
          check.fix ? h("div", { className: "plexsync-fix" }, "Fix: " + check.fix) : null
        );
      })
    );
  }

  function Actions(props) {
    var state = React.useState({ busy: false, message: null, error: null, checks: null, preview: null });
    var action = state[0];
    var setAction = state[1];

    function report(change) {
      setAction(function (old) {
        return Object.assign({}, old, { error: null }, change);
      });
    }

    function fail(error) {
      report({ busy: false, message: null, error: String((error && error.message) || error) });
    }

    function processQueue() {
      report({ checks: null, preview: null });
      followTask("Process Queue", {}, "process_queue", report).then(function (run) {
        report({ busy: false, message: describeRun("Process Queue", run) });
        props.refresh();
      }, fail);
    }

    function healthCheck() {
      report({ busy: true, message: "Probing Plex…", checks: null, preview: null });
      operation({ mode: "health_check", quiet: "true" }).then(function (result) {
        var text = result && result.healthy
          ? "Plex answered /identity in " + result.latency_ms + " ms; circuit " + result.breaker + "."
          : "Plex did not answer: " + ((result && result.error) || "no answer") + " (circuit " + (result && result.breaker) + ").";
        report({ busy: false, message: text });
      }, fail);
    }

    function checkSetup() {
      report({ busy: true, message: "Checking the set-up…", checks: null, preview: null });
      operation({ mode: "check_setup", quiet: "true" }).then(function (result) {
        if (!result || !Array.isArray(result.checks)) {
          report({ busy: false, message: "PlexSync is switched off: switch on its Enabled setting." });
          return;
        }
        report({
          busy: false,
          message: result.ok ? "Check Setup passed: Stash and Plex work together." : "Check Setup found something to fix:",
          checks: result.checks,
        });
      }, fail);
    }

    function previewRecovery() {
      report({ busy: true, message: "Looking for dead letters from the last outage…", checks: null, preview: null });
      operation({ mode: "recover_outage_jobs", dry_run: "true", quiet: "true" }).then(function (result) {
        report({ busy: false, message: null, preview: result });
      }, fail);
    }

    function confirmRecovery() {
      report({ preview: null });
      followTask("Recover Outage Jobs", {}, "recover_outage_jobs", report).then(function (run) {
        report({ busy: false, message: describeRun("Recover Outage Jobs", run) });
        props.refresh();
      }, fail);
    }

    var preview = action.preview;
    var types = (preview && preview.by_error_type) || {};
    return h(
      Section,
      { title: "Actions" },
      h(
        "div",
        { className: "plexsync-buttons" },
        h(Button, { variant: "primary", disabled: action.busy, onClick: processQueue }, "Process Queue"),
        h(Button, { disabled: action.busy, onClick: healthCheck }, "Health Check"),
        h(Button, { disabled: action.busy, onClick: checkSetup }, "Check Setup"),
        h(Button, { disabled: action.busy, onClick: previewRecovery }, "Recover Outage Jobs")
      ),
      action.message ? h("p", { className: "plexsync-message", role: "status" }, action.message) : null,
      action.error ? h(ErrorBox, null, action.error) : null,
      action.checks ? h(Checks, { checks: action.checks }) : null,
      preview
        ? h(
            "div",
            { className: "plexsync-preview" },
            h(
              "p",
              null,
              preview.matched
                ? counted(preview.matched, "dead letter") + " from the last outage would go back to the queue:"
                : "No dead letter from the last outage to recover."
            ),
            Object.keys(types).length
              ? h(Rows, {
                  rows: Object.keys(types).map(function (name) {
                    return [name, String(types[name])];
                  }),
                })
              : null,
            h(
              "div",
              { className: "plexsync-buttons" },
              preview.matched
                ? h(Button, { variant: "primary", onClick: confirmRecovery }, "Confirm recovery")
                : null,
              h(Button, {
                onClick: function () {
                  report({ preview: null });
                },
              }, "Cancel")
            )
          )
        : null
    );
  }

  // -- the page --------------------------------------------------------------------------------

  function Page() {
    var data = React.useState({ status: null, report: null, error: null });
    var now = React.useState(Date.now() / 1000);
    var tick = React.useState(0);
    var refresh = function () {
      tick[1](function (n) {
        return n + 1;
      });
    };

    React.useEffect(
      function () {
        var live = true;
        var timer = null;
        function poll() {
          Promise.all([
            operation({ mode: "queue_status", quiet: "true" }),
            operation({ mode: "outage_summary", quiet: "true" }),
          ]).then(
            function (answers) {
              if (!live) return;
              data[1]({ status: answers[0], report: answers[1], error: null });
            },
            function (error) {
              if (!live) return;
              data[1](function (old) {
                return Object.assign({}, old, { error: String((error && error.message) || error) });
              });
            }
          ).then(function () {
            if (live) timer = window.setTimeout(poll, POLL_MS);
          });
        }
        poll();
        return function () {
          live = false;
          if (timer !== null) window.clearTimeout(timer);
        };
      },
      [tick[0]]
    );

    React.useEffect(function () {
      var clock = window.setInterval(function () {
        now[1](Date.now() / 1000);
      }, 1000);
      return function () {
        window.clearInterval(clock);
      };
    }, []);

    var status = data[0].status;
    var body;
    if (status === "disabled") {
      body = h("p", { className: "plexsync-message" }, "PlexSync is switched off: switch on its Enabled setting in Settings > Plugins > PlexSync.");
    } else if (status === null) {
      body = data[0].error ? null : h("p", { className: "plexsync-message" }, "Asking PlexSync…");
    } else {
      if (typeof status !== "object" || !status.breaker || !status.queue) {
        throw new Error("PlexSync's Queue Status answer is not what this page reads.");
      }
      body = h(
        "div",
        { className: "plexsync-grid" },
        h(Circuit, { status: status, now: now[0] }),
        h(Queue, { status: status }),
        h(DeadLetters, { status: status }),
        h(Timeline, { report: data[0].report }),
        h(Actions, { refresh: refresh }),
        h(Events, { status: status }),
        h(SettingsInForce, { status: status })
      );
    }
    return h(
      "div",
      { className: "plexsync-page container-fluid" },
      h("h3", null, "PlexSync"),
      data[0].error
        ? h(ErrorBox, null, "PlexSync could not answer: " + data[0].error + " (Is the plugin installed and enabled, and are its settings set?)")
        : null,
      body
    );
  }

  // An exception inside the page stays inside the page (Stash issue 6874: one thrown in a
  // plugin's patch blanked the scenes page).
  class Guard extends React.Component {
    constructor(props) {
      super(props);
      this.state = { error: null };
    }

    static getDerivedStateFromError(error) {
      return { error: error };
    }

    componentDidCatch(error) {
      if (window.console) window.console.warn("PlexSync page:", error);
    }

    render() {
      if (this.state.error) {
        var self = this;
        return h(
          "div",
          { className: "plexsync-page container-fluid" },
          h("h3", null, "PlexSync"),
          h(
            ErrorBox,
            null,
            "The PlexSync page hit a problem: " + String(this.state.error.message || this.state.error) + " ",
            h(Button, {
              onClick: function () {
                self.setState({ error: null });
              },
            }, "Try again")
          )
        );
      }
      return this.props.children;
    }
  }

  function GuardedPage() {
    return h(Guard, null, h(Page));
  }

  api.register.route(ROUTE, GuardedPage);

  if (api.patch && api.patch.before && RouterDOM.NavLink) {
    api.patch.before("MainNavBar.UtilityItems", function (props) {
      try {
        var Icon = api.components && api.components.Icon;
        var icon = libraries.FontAwesomeSolid && libraries.FontAwesomeSolid.faArrowsRotate;
        var inner = Icon && icon ? h(Icon, { icon: icon }) : "PlexSync";
        var link = h(
          RouterDOM.NavLink,
          { key: "plexsync", className: "nav-utility", exact: true, to: ROUTE, title: "PlexSync", "aria-label": "PlexSync" },
          h("span", { className: "btn minimal d-flex align-items-center h-100 plexsync-nav" }, inner)
        );
        return [Object.assign({}, props, { children: h(React.Fragment, null, props.children, link) })];
      } catch (error) {
        if (window.console) window.console.warn("PlexSync: navbar link not added:", error);
        return [props];
      }
    });
  }
})();
