"""JobConfig, the body of `POST /api/v2/jobs/{jobName}/start` (API.md section 4), and its
mapping to a scheme (section 3), stored as the job task's scheme.

Names are PascalCase as the Web Data Source API spells them. Unknown keys are refused at every
level (as /v1 does), every bound is the scheme's own type, and an error the scheme finds is
reported at the JobConfig field it came from (`Proxy.Proxies[0].Host`, never
`scheme.proxy.gates[0].url`). Absent parts take the scheme's defaults.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_pascal

from engine.scheme import Scheme, SchemeError, validation_errors
from engine.scheme_types import (
    ConnectionsLimit,
    DelayText,
    HeaderName,
    HeaderValue,
    RedirectHops,
    RequestTimeout,
    ResponseKb,
    RetryDelayMs,
    RetryLimit,
    StatusCode,
    Url,
)


def _title(value: Any) -> Any:
    """'retry' / 'RETRY' -> 'Retry', 'fromscratch' -> 'FromScratch' (case-insensitive enums)."""
    if isinstance(value, str):
        known = {"skip": "Skip", "retry": "Retry", "continue": "Continue",
                 "fromscratch": "FromScratch"}
        return known.get(value.strip().lower(), value)
    return value


def _status_codes(value: Any) -> Any:
    """'401, 403' or [401, 403]."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return [int(part) if part.isdigit() else part for part in parts]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="forbid",
                              frozen=True, strict=True)


class JobHeader(_Model):
    name: HeaderName
    values: list[HeaderValue] = []


class JobHeaders(_Model):
    default_request_headers: list[JobHeader] = []


class JobCookies(_Model):
    use_cookies: bool = True


class JobHttps(_Model):
    suppress_https_certificate_validation: bool = False


class JobProxyServer(_Model):
    protocol: Literal["http", "https"] = "http"
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    user_name: str | None = None
    password: str | None = None
    connections_limit: ConnectionsLimit = 4

    def url(self) -> str:
        auth = ""
        if self.user_name:
            auth = quote(self.user_name, safe="") + ":" + quote(self.password or "", safe="") + "@"
        return f"{self.protocol}://{auth}{self.host}:{self.port}"


class JobProxy(_Model):
    use_proxy: bool = False
    send_overt_requests_on_proxies_failure: bool = True
    iterate_proxy_response_codes: Annotated[
        list[StatusCode], BeforeValidator(_status_codes)
    ] = [401, 403]
    proxies: list[JobProxyServer] = []


class JobRetryPolicyParams(_Model):
    retry_delay_ms: RetryDelayMs = 500
    retries_limit: RetryLimit = 2


class JobDownloadErrorHandling(_Model):
    policy: Annotated[Literal["Skip", "Retry"], BeforeValidator(_title)] = "Retry"
    retry_policy_params: JobRetryPolicyParams = JobRetryPolicyParams()


class JobCrawlDelay(_Model):
    host: str = ""  # empty or "*": every host
    delay: DelayText = "0"


class JobCrawlersProtectionBypass(_Model):
    max_response_size_kb: ResponseKb = 10_240
    max_redirect_hops: RedirectHops = 10
    request_timeout_sec: RequestTimeout = 30
    crawl_delays: list[JobCrawlDelay] = []


class JobRestart(_Model):
    job_restart_mode: Annotated[Literal["Continue", "FromScratch"],
                                BeforeValidator(_title)] = "Continue"


class JobConfig(_Model):
    start_urls: list[Url] = Field(min_length=1, max_length=100_000)
    headers: JobHeaders = JobHeaders()
    cookies: JobCookies = JobCookies()
    https: JobHttps = JobHttps()
    proxy: JobProxy = JobProxy()
    download_error_handling: JobDownloadErrorHandling = JobDownloadErrorHandling()
    crawlers_protection_bypass: JobCrawlersProtectionBypass = JobCrawlersProtectionBypass()
    restart: JobRestart = JobRestart()

    @property
    def from_scratch(self) -> bool:
        return self.restart.job_restart_mode == "FromScratch"

    def scheme(self) -> Scheme:
        """The scheme this job's crawl runs with; raises SchemeError with JobConfig paths."""
        data, _ = self._scheme_data()
        try:
            return Scheme.model_validate(data)
        except ValidationError as exc:
            raise SchemeError(self.job_errors(validation_errors(exc))) from None

    def job_errors(self, errors: dict[str, list[str]], prefix: str = "") -> dict[str, list[str]]:
        """Scheme errors (`{"proxy.gates[0].url": [...]}`, paths after `prefix`) keyed by the
        JobConfig field each came from."""
        _, origins = self._scheme_data()
        mapped: dict[str, list[str]] = {}
        for path, messages in errors.items():
            mapped.setdefault(_origin(origins, path.removeprefix(prefix)), []).extend(messages)
        return mapped

    def _scheme_data(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The scheme as data, and where each of its paths comes from in this JobConfig."""
        bypass, errors, proxy = (self.crawlers_protection_bypass, self.download_error_handling,
                                 self.proxy)
        cpb, retry_params = "CrawlersProtectionBypass", "DownloadErrorHandling.RetryPolicyParams"
        origins = {
            "request.cookies": "Cookies.UseCookies",
            "request.timeout_s": f"{cpb}.RequestTimeoutSec",
            "request.max_response_kb": f"{cpb}.MaxResponseSizeKb",
            "request.max_redirects": f"{cpb}.MaxRedirectHops",
            "request.verify_tls": "Https.SuppressHttpsCertificateValidation",
            "request.retry.policy": "DownloadErrorHandling.Policy",
            "request.retry.limit": f"{retry_params}.RetriesLimit",
            "request.retry.delay_ms": f"{retry_params}.RetryDelayMs",
            "proxy.use": "Proxy.UseProxy",
            "proxy.fallback_direct": "Proxy.SendOvertRequestsOnProxiesFailure",
            "proxy.rotate_on_status": "Proxy.IterateProxyResponseCodes",
            "politeness.crawl_delay": f"{cpb}.CrawlDelays",
        }
        origins |= {f"start_urls[{i}]": f"StartUrls[{i}]" for i in range(len(self.start_urls))}
        default_delay: str = "0"
        host_delays = {}
        for i, rule in enumerate(bypass.crawl_delays):
            if rule.host.strip() in ("", "*"):
                default_delay = rule.delay
                origins["politeness.crawl_delay"] = f"{cpb}.CrawlDelays[{i}].Delay"
            else:
                host_delays[rule.host.strip()] = rule.delay
                # The delay is checked on the rule itself: what the scheme refuses is the host.
                origins[f"politeness.host_delays.{rule.host.strip()}"] = (
                    f"{cpb}.CrawlDelays[{i}].Host")
        headers = self.headers.default_request_headers
        for i, header in enumerate(headers):
            origins[f"request.headers.{header.name}"] = f"Headers.DefaultRequestHeaders[{i}]"
        for i in range(len(proxy.proxies)):
            origins[f"proxy.gates[{i}].url"] = f"Proxy.Proxies[{i}].Host"
            origins[f"proxy.gates[{i}].connections_limit"] = f"Proxy.Proxies[{i}].ConnectionsLimit"
        retry = errors.retry_policy_params
        return {
            "start_urls": list(self.start_urls),
            "politeness": {
                "crawl_delay": float(default_delay) if _number(default_delay) else default_delay,
                "host_delays": host_delays,
            },
            "request": {
                "headers": {h.name: ", ".join(h.values) for h in headers},
                "cookies": self.cookies.use_cookies,
                "timeout_s": bypass.request_timeout_sec,
                "max_response_kb": bypass.max_response_size_kb,
                "max_redirects": bypass.max_redirect_hops,
                "verify_tls": not self.https.suppress_https_certificate_validation,
                "retry": {"policy": errors.policy.lower(), "limit": retry.retries_limit,
                          "delay_ms": retry.retry_delay_ms},
            },
            "proxy": {
                "use": proxy.use_proxy,
                "fallback_direct": proxy.send_overt_requests_on_proxies_failure,
                "rotate_on_status": list(proxy.iterate_proxy_response_codes),
                "gates": [{"url": p.url(), "connections_limit": p.connections_limit}
                          for p in proxy.proxies],
            },
        }, origins


def _origin(origins: dict[str, str], path: str) -> str:
    """The JobConfig path of a scheme path: its longest known prefix, else the whole body."""
    found = ""
    for known in origins:
        if (path == known or path.startswith((known + ".", known + "["))) and \
                len(known) > len(found):
            found = known
    return origins[found] if found else "$"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
