"""The integration snippet for an app's platform, filled in with its real ids and this server's
URL. The SDK calls follow the published Apex SDKs' quick starts; the raw HTTP request at the end
of each is the wire format this server answers (docs/sdk.md, PROTOCOL.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from apex_mediation.db.models import App

KEY_PLACEHOLDER = "YOUR_SDK_KEY"


@dataclass(frozen=True)
class Snippet:
    title: str
    code: str


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _curl(url: str, body: dict[str, object], key: bool = True) -> str:
    lines = [f"curl -X POST '{url}' \\"]
    if key:
        lines.append(f"  -H 'X-Api-Key: {KEY_PLACEHOLDER}' \\")
    lines.append("  -H 'Content-Type: application/json' \\")
    lines.append(f"  -d '{json.dumps(body)}'")
    return "\n".join(lines)


def _android(app: App, base: str, placement: str) -> list[Snippet]:
    gradle = """dependencies {
    implementation("com.rivalapexmediation.sdk:core:1.0.0")
}"""
    init = f"""import com.rivalapexmediation.sdk.BelAds
import com.rivalapexmediation.sdk.BelInterstitial
import com.rivalapexmediation.sdk.SDKConfig
import com.rivalapexmediation.sdk.SdkMode

// Application.onCreate()
val config = SDKConfig.Builder()
    .appId("{app.id}")
    .sdkMode(SdkMode.HYBRID)
    .enableS2SWhenCapable(true)
    .configEndpoint("{base}")
    .auctionEndpoint("{base}")
    .auctionApiKey("{KEY_PLACEHOLDER}") // an SDK key of this app (SDK keys, on this page)
    .build()
BelAds.initialize(applicationContext, "{app.id}", config)
BelAds.setTestMode({_flag(app.test_mode)})

// Later, where the ad belongs:
BelInterstitial.load(applicationContext, "{placement}", listener)"""
    return [
        Snippet("Gradle (app/build.gradle.kts)", gradle),
        Snippet("Initialise (Kotlin)", init),
    ]


def _ios(app: App, base: str, placement: str) -> list[Snippet]:
    package = "Swift Package Manager: add the Apex SDK package, product RivalApexMediationSDK"
    init = f"""import RivalApexMediationSDK

// application(_:didFinishLaunchingWithOptions:)
// Auction and config endpoint: {base}; SDK key (X-Api-Key): {KEY_PLACEHOLDER}
BelAds.initialize(appId: "{app.id}", testMode: {_flag(app.test_mode)}) {{ result in
  if case .failure(let error) = result {{ print("Apex init failed: \\(error)") }}
}}

BelInterstitial.load(placementId: "{placement}") {{ result in
  // show with BelInterstitial.show(from: self) once loaded
}}"""
    return [Snippet("Install", package), Snippet("Initialise (Swift)", init)]


def _unity(app: App, base: str, placement: str) -> list[Snippet]:
    init = f"""using Apex.Mediation;
using Apex.Mediation.Core;
using UnityEngine;

public class MediationBootstrap : MonoBehaviour
{{
    private void Awake()
    {{
        // Auction and config endpoint: {base}; SDK key (X-Api-Key): {KEY_PLACEHOLDER}
        var config = new ApexConfig {{ AppId = "{app.id}", Mode = SdkMode.HYBRID }};
        ApexMediation.Initialize(config, ok => Debug.Log($"Apex ready: {{ok}}"));
        ApexMediation.LoadInterstitial("{placement}", (loaded, error) => {{ }});
    }}
}}"""
    return [
        Snippet("Install", "Unity Package Manager: add the com.apex.mediation package"),
        Snippet("Initialise (C#)", init),
    ]


def _web(app: App, base: str, publisher: str, placement: str) -> list[Snippet]:
    tag = f"""<script src="https://cdn.apexmediation.com/sdk/web/v1/apex.min.js" async></script>
<script>
  window.apex = window.apex || [];
  function apex() {{ window.apex.push(arguments); }}
  apex('init', {{
    appId: '{app.id}',
    publisherId: '{publisher}',
    endpoint: '{base}',
    debug: {_flag(app.test_mode)}
  }});
  apex('defineSlot', {{ placementId: '{placement}', containerId: 'ad-slot-1', size: [300, 250] }});
  apex('display', 'ad-slot-1');
</script>
<div id="ad-slot-1"></div>"""
    origins = ", ".join(app.allowed_origins) or "none yet: add your site's origin above"
    note = f"Pages may call the auction only from the allowed origins: {origins}."
    return [Snippet("Script tag (in your page)", tag), Snippet("Allowed origins", note)]


def _ctv(app: App, base: str, placement: str) -> list[Snippet]:
    init = f"""// build.gradle: implementation("com.rivalapex:apexmediation-ctv:0.1.0")
val config = com.rivalapexmediation.ctv.SDKConfig(
    appId = "{app.id}",
    apiBaseUrl = "{base}/api/v1",
    apiKey = "{KEY_PLACEHOLDER}",
    testMode = {_flag(app.test_mode)},
)
com.rivalapexmediation.ctv.ApexMediation.initialize(applicationContext, config) {{ ok -> }}

val ad = com.rivalapexmediation.ctv.ads.InterstitialAd("{placement}")
ad.load {{ error -> if (error == null) ad.show(this, playerView, callback) }}"""
    return [Snippet("Android TV (Kotlin)", init)]


def snippets(
    app: App, base_url: str, publisher_id: str, placement_id: str, ad_type: str = "interstitial"
) -> list[Snippet]:
    """What to paste for this app's platform, ending with the raw request to check by hand."""
    base = base_url.rstrip("/")
    if app.platform == "web":
        found = _web(app, base, publisher_id, placement_id)
        body: dict[str, object] = {
            "request": {"placement": placement_id, "adType": ad_type, "testMode": True},
            "meta": {"appId": str(app.id), "publisherId": publisher_id},
        }
        return [*found, Snippet("Check by hand (HTTP)", _curl(f"{base}/auction", body, False))]
    if app.platform == "ctv":
        found = _ctv(app, base, placement_id)
        body = {"placementId": placement_id, "adType": ad_type, "testMode": True}
        return [*found, Snippet("Check by hand (HTTP)", _curl(f"{base}/api/v1/rtb/bid", body))]
    if app.platform == "ios":
        found = _ios(app, base, placement_id)
    elif app.platform == "unity":
        found = _unity(app, base, placement_id)
    else:
        found = _android(app, base, placement_id)
    body = {"placement_id": placement_id, "ad_type": ad_type, "test": True}
    return [*found, Snippet("Check by hand (HTTP)", _curl(f"{base}/v1/auction", body))]
