// Show the server's answer when a callback is refused or fails, instead of a silent page.
// The server answers every failed callback with JSON {error, message} (components/errors.py):
// 401 means the session ended, so the browser goes to the sign-in page and comes back here.
(function () {
    "use strict";
    var BANNER_ID = "callback-error-banner";
    var originalFetch = window.fetch;

    function hideBanner() {
        var banner = document.getElementById(BANNER_ID);
        if (banner) {
            banner.remove();
        }
    }

    function showBanner(message, kind) {
        hideBanner();
        var banner = document.createElement("div");
        banner.id = BANNER_ID;
        banner.setAttribute("role", "alert");
        banner.className = "alert alert-" + kind + " alert-dismissible shadow callback-error";
        var text = document.createElement("span");
        text.textContent = message; // text, never HTML
        var close = document.createElement("button");
        close.type = "button";
        close.className = "btn-close";
        close.setAttribute("aria-label", "Close");
        close.addEventListener("click", hideBanner);
        banner.appendChild(text);
        banner.appendChild(close);
        document.body.appendChild(banner);
    }

    window.fetch = function (input, init) {
        var url = typeof input === "string" ? input : (input && input.url) || "";
        var result = originalFetch.apply(this, arguments);
        if (url.indexOf("_dash-update-component") === -1) {
            return result;
        }
        return result.then(function (response) {
            if (response.ok) {
                var banner = document.getElementById(BANNER_ID);
                if (banner && banner.dataset.transient === "true") {
                    hideBanner();
                }
                return response;
            }
            if (response.status === 401) {
                var here = window.location.pathname + window.location.search;
                window.location.assign("/login?next=" + encodeURIComponent(here));
                return response;
            }
            response.clone().json().then(
                function (body) {
                    showBanner(
                        (body && body.message) || "Something went wrong. Try again.",
                        response.status === 503 ? "warning" : "danger"
                    );
                    if (response.status === 503) {
                        document.getElementById(BANNER_ID).dataset.transient = "true";
                    }
                },
                function () {
                    showBanner("Something went wrong. Try again.", "danger");
                }
            );
            return response;
        });
    };
})();
