// Boots GraphiQL against this server. Queries and mutations go over HTTP with the headers typed
// in the header editor; subscriptions go over graphql-transport-ws, with those headers sent as
// the connection_init payload (browsers cannot set headers on a WebSocket upgrade). Header values
// never enter the URL.
(function () {
  "use strict";
  var httpUrl = window.location.origin + window.location.pathname;
  var wsUrl = httpUrl.replace(/^http/, "ws");
  var wsClients = {};
  // An auth close (4401, 4403) will not succeed on retry with the same headers: give up at
  // once so GraphiQL shows the server's reason instead of spinning through retries.
  var AUTH_CLOSE_CODES = [4401, 4403];

  function shouldRetry(errOrCloseEvent) {
    return !(errOrCloseEvent && AUTH_CLOSE_CODES.indexOf(errOrCloseEvent.code) !== -1);
  }

  function wsClientFor(headers) {
    var key = JSON.stringify(headers || {});
    if (!wsClients[key]) {
      wsClients[key] = graphqlWs.createClient({
        url: wsUrl,
        connectionParams: headers || {},
        lazy: true,
        shouldRetry: shouldRetry,
      });
    }
    return wsClients[key];
  }

  function isSubscription(params) {
    var source = params.query || "";
    var name = params.operationName;
    var pattern = /\b(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    var match;
    while ((match = pattern.exec(source)) !== null) {
      if (!name || match[2] === name) return match[1] === "subscription";
    }
    return false;
  }

  // graphql-ws hands the error sink the server's `error` message payload (an array of GraphQL
  // errors, shown as they are), a CloseEvent, or an Error.
  function errorsOf(error) {
    if (Array.isArray(error)) return error;
    if (error && typeof error.code === "number") {
      return [{ message: error.reason || "WebSocket closed", extensions: { closeCode: error.code } }];
    }
    return [{ message: String((error && error.message) || error) }];
  }

  function subscribe(params, headers) {
    var client = wsClientFor(headers);
    var queue = [];
    var waiting = null;
    var finished = false;
    var dispose = client.subscribe(params, {
      next: function (value) { push({ value: value, done: false }); },
      error: function (error) { push({ error: error }); finished = true; },
      complete: function () { push({ value: undefined, done: true }); finished = true; },
    });
    function push(item) {
      if (waiting) { var resolve = waiting; waiting = null; resolve(item); } else { queue.push(item); }
    }
    function take() {
      var item = queue.length ? queue.shift() : null;
      var ready = item ? Promise.resolve(item) : new Promise(function (resolve) { waiting = resolve; });
      return ready.then(function (result) {
        if (result.error) return { value: { errors: errorsOf(result.error) }, done: false };
        return result;
      });
    }
    var iterator = {
      next: function () {
        if (finished && !queue.length) return Promise.resolve({ value: undefined, done: true });
        return take();
      },
      return: function () { dispose(); finished = true; return Promise.resolve({ value: undefined, done: true }); },
    };
    iterator[Symbol.asyncIterator] = function () { return iterator; };
    return iterator;
  }

  function fetcher(params, options) {
    var headers = (options && options.headers) || {};
    if (isSubscription(params)) return subscribe(params, headers);
    var requestHeaders = Object.assign({ "content-type": "application/json", accept: "application/json" }, headers);
    return fetch(httpUrl, { method: "POST", headers: requestHeaders, body: JSON.stringify(params) })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        try { return JSON.parse(text); } catch (notJson) { return { errors: [{ message: text }] }; }
      });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
      defaultHeaders: JSON.stringify({ "x-api-key": "ck_test_..." }, null, 2),
      defaultQuery: "# Set your test key in the Headers tab below, then run:\n{\n  viewer {\n    livemode\n    organization { id name country currency }\n  }\n}\n",
    })
  );
})();
