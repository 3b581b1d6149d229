// A small window.PluginApi, shaped as Stash's (ui/v2.5/src/pluginApi.tsx, patch.tsx): the
// libraries at the versions Stash ships, register.route, patch.before/instead/after on named
// components, components.Icon. Its own app has a navbar (the patchable MainNavBar.UtilityItems)
// and a router holding Stash-like pages, a sibling plugin's route and every registered route.
(function () {
  "use strict";
  var React = window.React;
  var h = React.createElement;
  var Router = window.ReactRouterDOM;
  var routes = [];
  var patches = { before: {}, instead: {}, after: {} };

  function add(kind) {
    return function (name, fn) {
      (patches[kind][name] = patches[kind][name] || []).push(fn);
    };
  }

  // As Stash's PatchFunction: before-functions return the new arguments, then instead, then after.
  function patchComponent(name, target) {
    return function (props) {
      var args = [props];
      (patches.before[name] || []).forEach(function (fn) {
        args = fn.apply(null, args);
      });
      var insteads = patches.instead[name] || [];
      var result = insteads.length
        ? insteads[0].apply(null, args.concat([target]))
        : target.apply(null, args);
      (patches.after[name] || []).forEach(function (fn) {
        result = fn.apply(null, args.concat([result]));
      });
      return result;
    };
  }

  function Icon(props) {
    return h("span", { className: "stand-in-icon", "data-icon": props.icon && props.icon.iconName }, "\u27f3");
  }

  var UtilityItems = patchComponent("MainNavBar.UtilityItems", function (props) {
    return h(React.Fragment, null, props.children);
  });

  window.PluginApi = {
    React: React,
    ReactDOM: window.ReactDOM,
    libraries: {
      Bootstrap: window.ReactBootstrap,
      ReactRouterDOM: Router,
      FontAwesomeSolid: { faArrowsRotate: { prefix: "fas", iconName: "arrows-rotate" } },
    },
    components: { Icon: Icon },
    register: {
      route: function (path, component) {
        routes.push({ path: path, component: component });
      },
    },
    patch: { before: add("before"), instead: add("instead"), after: add("after") },
  };

  function Scenes() {
    return h("p", { id: "scenes-page" }, "Scenes page");
  }

  // Another plugin's page: it must render whatever happens inside PlexSync's.
  function Sibling() {
    return h("p", { id: "sibling-page" }, "Sibling plugin page works");
  }
  window.PluginApi.register.route("/plugins/sibling", Sibling);

  function App() {
    var Nav = window.ReactBootstrap.Nav;
    return h(
      Router.BrowserRouter,
      null,
      h(
        "nav",
        { className: "navbar navbar-dark bg-secondary", id: "navbar" },
        h(
          Nav,
          { className: "flex-row" },
          h(Router.NavLink, { className: "nav-link", to: "/scenes" }, "Scenes"),
          h(Router.NavLink, { className: "nav-link", to: "/plugins/sibling", id: "to-sibling" }, "Sibling"),
          h(UtilityItems, null, h("span", { className: "nav-link" }, "Settings"))
        )
      ),
      h(
        Router.Switch,
        null,
        h(Router.Route, { path: "/scenes", component: Scenes }),
        routes.map(function (route) {
          return h(Router.Route, { key: route.path, path: route.path, component: route.component });
        })
      )
    );
  }

  window.StashStandIn = {
    start: function (root) {
      window.ReactDOM.render(h(App), root);
    },
  };
})();
