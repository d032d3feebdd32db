"""``harvest`` against bad input and hostile sites (real HTTP servers, no network): every
failure reported with its URL, none stopping the rest; addresses the harvester must
not reach; limits reported as limits."""

from __future__ import annotations

import gzip
import socket
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webfixtures as wf  # noqa: E402
from harvestsites import DRIP  # noqa: E402
from harvestsites import MALFORMED_HOST  # noqa: E402
from harvestsites import MALFORMED_LINK  # noqa: E402
from harvestsites import MALFORMED_PORT  # noqa: E402
from harvestsites import QUICK  # noqa: E402
from harvestsites import articles_of  # noqa: E402
from harvestsites import bad_routes  # noqa: E402
from harvestsites import closed_port  # noqa: E402
from harvestsites import page  # noqa: E402
from harvestsites import store_article  # noqa: E402
from siteserver import Route  # noqa: E402
from siteserver import SiteServer  # noqa: E402

from indexer.harvest import HarvestOptions  # noqa: E402
from indexer.harvest import Site  # noqa: E402
from indexer.harvest import harvest  # noqa: E402
from indexer.harvest import site_runs  # noqa: E402
from indexer.parsing import Skipped  # noqa: E402
from indexer.sources import iter_articles  # noqa: E402


def test_every_bad_input_is_reported_and_stops_nothing(tmp_path):
    max_time = 1.0
    with SiteServer() as bad:
        bad.routes.update(bad_routes(bad.base))
        dead = f"http://127.0.0.1:{closed_port()}/"
        sites = [Site(dead), Site(bad.base + "/", start=(bad.base + "/lich?page=1",))]
        started = time.monotonic()
        report = harvest(sites, tmp_path / "h", HarvestOptions(
            **{**QUICK, "retries": 2, "max_time": max_time})).to_dict()
        seconds = time.monotonic() - started
        failures = report["failures"]
        reasons = {failure["url"]: failure["reason"] for failure in failures}

        assert "site unreachable" in reasons[dead] and "after 3 attempts" in reasons[dead]
        assert "malformed sitemap" in reasons[bad.base + "/sitemap-hong.xml"]
        assert reasons[bad.base + "/van-ban/quyet-dinh.pdf"] == \
            "not an HTML page (application/pdf)"
        assert "too large" in reasons[bad.base + "/bai-rat-lon.htm"]
        assert "too large" in reasons[bad.base + "/bai-nen-lon.htm"]
        assert "once decompressed" in reasons[bad.base + "/bai-nen-lon.htm"]
        assert "redirect loop" in reasons[bad.base + "/vong-a.htm"]
        assert reasons[bad.base + "/da-xoa.htm"].startswith("HTTP 404")
        # A gzip sitemap that would expand past the 50 MB a sitemap may have.
        assert reasons[bad.base + "/sitemap-bom.xml.gz"] == (
            "gzip sitemap: more than 52,428,800 bytes once decompressed")
        # A sitemap index naming a sitemap on another host: not fetched.
        assert reasons["http://may-khac.example/sitemap.xml"].startswith(
            "sitemap on another host")
        # A server too slow to wait for: left after max_time, the rest went on.
        assert reasons[bad.base + "/cham.htm"] == f"no complete answer within {max_time:g} s"
        assert len(bad.hits("/cham.htm")) == 1
        # A redirect into a path robots.txt disallows: not followed.
        assert reasons[bad.base + "/chuyen-huong.htm"] == (
            f"redirected to {bad.base}/noi-bo/bai.htm: disallowed by robots.txt")
        assert not bad.hits("/noi-bo/bai.htm")
        # Addresses that cannot be parsed, in robots.txt, a sitemap and a list page:
        # each reported with the document holding it.
        assert reasons["http://[hong/sitemap.xml"] == (
            "malformed URL in robots.txt: Invalid IPv6 URL")
        assert reasons[MALFORMED_PORT] == (
            f"malformed URL in {bad.base}/sitemap-a.xml: Port out of range 0-65535")
        assert reasons[MALFORMED_HOST] == (
            f"malformed URL in {bad.base}/sitemap-a.xml: Invalid IPv6 URL")
        assert [failure["reason"] for failure in failures if failure["url"] == MALFORMED_LINK] == [
            f"malformed URL in {bad.base}/lich?page={number}: Invalid IPv6 URL"
            for number in (1, 2, 3)]
        # The endless calendar: left after STALE_PAGES pages without a new article.
        trap = [url for url, reason in reasons.items() if "endless pagination" in reason]
        assert trap == [bad.base + "/lich?page=4"]
        assert [hit.path for hit in bad.hits() if hit.path.startswith("/lich")] == [
            "/lich?page=1", "/lich?page=2", "/lich?page=3"]
        # The good article and the one that answered 503 once (retried) are stored.
        assert report["new"] == 2
        flaky = wf.article_path(articles_of("baomoi")[1], "baomoi")
        assert [hit.status for hit in bad.hits(flaky)] == [503, 200]
        # A list page among the articles: reported as skipped, not a failure; archived
        # all the same, so a build lists it too (and can be repeated from the pages).
        skipped = {"url": bad.base + "/chuyen-muc.htm",
                   "reason": "not an article: a list of links (6 items with a headline link "
                             "each)"}
        assert report["skipped_pages"] == [skipped]
        built = list(iter_articles([tmp_path / "h"]))
        assert [(item.path, item.reason) for item in built if isinstance(item, Skipped)] == [
            (skipped["url"], skipped["reason"])]
        assert len([item for item in built if not isinstance(item, Skipped)]) == 2
        runs = {run["site"]: run for run in site_runs(tmp_path / "h")}
        assert runs[dead]["failures"][0]["url"] == dead
        assert runs[bad.base + "/"]["counts"]["failed"] == len(
            [failure for failure in failures if failure["url"] != dead])
        # 14 bad addresses, the calendar's bad link on each of its 3 pages, the trap.
        assert report["failed"] == len(failures) == 18, failures
        # The slow page would take DRIP * 213 s (over 10 s) to arrive whole.
        assert seconds < DRIP * 213, seconds


def test_one_bad_address_on_a_page_stops_nothing_else(tmp_path):
    """An unclosed IPv6 bracket in one link of the home page (it used to stop the whole
    site and leave the state saying nothing failed)."""
    arts = articles_of("baomoi")[:3]
    with SiteServer() as site:
        for art in arts:
            site.routes[wf.article_path(art, "baomoi")] = page(art, "baomoi")
        links = "".join(f'<li><a href="{wf.article_path(a, "baomoi")}">{wf.e(a.title)}</a></li>'
                        for a in arts)
        site.routes["/"] = Route(f'<html><body><ul><li><a href="http://[::1/x">Tin mới nhất '
                                 f'hôm nay của phường</a></li>{links}</ul></body></html>'
                                 .encode())
        report = harvest([Site(site.base + "/")], tmp_path, HarvestOptions(**QUICK)).to_dict()
    assert report["new"] == 3
    assert report["failures"] == [{"url": "http://[::1/x",
                                   "reason": f"malformed URL in {site.base}/: Invalid IPv6 URL"}]
    assert site_runs(tmp_path)[0]["failures"] == report["failures"]


def test_what_stops_a_site_is_recorded_in_its_run_too(tmp_path):
    """Whatever stops a site (here: its archive folder cannot be made, a file is in the
    way) is in its run's record, not only in the returned report."""
    arts = articles_of("baomoi")[:1]
    with SiteServer() as site:
        site.routes[wf.article_path(arts[0], "baomoi")] = page(arts[0], "baomoi")
        site.routes["/"] = Route(wf.list_page("baomoi", arts, page=1, pages=1, base="/")
                                 .encode())
        (tmp_path / f"127.0.0.1_{site.port}").write_text("không phải thư mục")
        report = harvest([Site(site.base + "/")], tmp_path, HarvestOptions(**QUICK)).to_dict()
    (stopped,) = report["failures"]
    assert stopped["url"] == site.base + "/"
    assert stopped["reason"].startswith("harvest of this site stopped: FileExistsError")
    (run,) = site_runs(tmp_path)
    assert run["failures"] == [stopped] and run["counts"]["failed"] == 1


def test_robots_server_error_or_429_skips_the_site_and_a_second_run_waits(tmp_path):
    from indexer.harvest import HarvestError
    from indexer.harvest.crawl import DirLock

    for status in (500, 429):
        with SiteServer({"/robots.txt": Route(status=status)}) as broken:
            report = harvest([Site(broken.base + "/")], tmp_path / str(status),
                             HarvestOptions(**{**QUICK, "retries": 1})).to_dict()
            assert report["failures"][0]["url"] == broken.base + "/robots.txt"
            assert "RFC 9309" in report["failures"][0]["reason"]
            assert [hit.path for hit in broken.hits()] == ["/robots.txt", "/robots.txt"]
    with DirLock(tmp_path / "h"):
        with pytest.raises(HarvestError, match="another harvest is running"):
            harvest([Site("http://127.0.0.1:9/")], tmp_path / "h")


def test_robots_groups_are_matched_on_our_product_token(tmp_path):
    """Our User-Agent holds a contact address and a project URL; robots.txt groups are
    matched on the product token only (``pypi`` and ``mailto`` groups are others')."""
    arts = articles_of("baomoi")[:2]
    with SiteServer() as site:
        paths = [wf.article_path(a, "baomoi") for a in arts]
        for art, path in zip(arts, paths, strict=True):
            site.routes[path] = page(art, "baomoi")
        site.routes["/rieng/bai.htm"] = page(arts[0], "baomoi")
        site.routes["/robots.txt"] = Route(
            b"User-agent: pypi\nDisallow: /\n\nUser-agent: mailto\nCrawl-delay: 20\n\n"
            b"User-agent: *\nDisallow: /rieng/\n", content_type="text/plain")
        site.routes["/sitemap.xml"] = Route(
            ("<urlset>" + "".join(f"<url><loc>{site.base}{p}</loc></url>"
                                  for p in [*paths, "/rieng/bai.htm"]) + "</urlset>").encode(),
            content_type="application/xml")
        started = time.monotonic()
        for contact in (None, "mailto:quantri@quan4.gov.vn"):
            report = harvest([Site(site.base + "/")], tmp_path / str(bool(contact)),
                             HarvestOptions(**{**QUICK, "contact": contact})).to_dict()
            assert (report["new"], report["disallowed"]) == (2, 1), report
        assert time.monotonic() - started < 10  # no 20 s Crawl-delay between requests
        assert not site.hits("/rieng/bai.htm")


def test_loopback_private_and_other_hosts_are_refused(tmp_path):
    """By default the harvester connects to public addresses only: checked after DNS
    resolution and on every hop (a robots.txt redirect may go anywhere), so neither a
    site nor a redirect nor a sitemap reaches the machine or its network."""
    with SiteServer(host="127.0.0.2") as internal, SiteServer() as site:
        internal.routes["/robots.txt"] = Route(b"User-agent: *\n", content_type="text/plain")
        internal.routes["/sitemap.xml"] = Route(b"<urlset></urlset>",
                                                content_type="application/xml")
        # Default settings: the loopback site itself is refused, by address and by name.
        report = harvest([Site(site.base + "/"), Site(f"http://localhost:{site.port}/")],
                         tmp_path / "a", HarvestOptions(**{**QUICK, "allow_networks": ()}))
        reasons = [failure["reason"] for failure in report.to_dict()["failures"]]
        assert reasons == [
            "site unreachable: refused: 127.0.0.1 is a loopback address (harvesting reaches "
            "public addresses only, unless --allow-network names its network)",
            "site unreachable: refused: localhost resolves to 127.0.0.1, a loopback address "
            "(harvesting reaches public addresses only, unless --allow-network names its "
            "network)"], reasons
        assert not site.hits()
        # 127.0.0.1 allowed, 127.0.0.2 not: robots.txt redirects there, its Sitemap: line
        # names it; neither is fetched.
        site.routes["/robots.txt"] = Route(status=302, headers={
            "Location": f"{internal.base}/robots.txt"})
        other = SiteServer()
        with other:
            other.routes["/robots.txt"] = Route(
                f"User-agent: *\nSitemap: {internal.base}/sitemap.xml\n".encode(),
                content_type="text/plain")
            report = harvest([Site(site.base + "/"), Site(other.base + "/")], tmp_path / "b",
                             HarvestOptions(**QUICK)).to_dict()
        reasons = {failure["url"]: failure["reason"] for failure in report["failures"]}
        assert reasons[site.base + "/"].startswith(
            "site unreachable: refused: 127.0.0.2 is a loopback address")
        assert reasons[internal.base + "/sitemap.xml"].startswith(
            "refused: 127.0.0.2 is a loopback address")
        assert not internal.hits()


def test_address_rules():
    from indexer.harvest.network import parse_networks
    from indexer.harvest.network import refusal

    for address, kind in (("127.0.0.1", "loopback"), ("::1", "loopback"),
                          ("10.1.2.3", "private"), ("192.168.1.1", "private"),
                          ("172.16.0.1", "private"), ("fd00:ec2::254", "private"),
                          ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
                          ("100.100.100.200", "non-public"), ("0.0.0.0", "unspecified"),
                          ("224.0.0.1", "multicast"), ("::ffff:10.0.0.1", "private")):
        assert refusal(address) == f"a {kind} address", address
    assert refusal("203.113.131.1") is None and refusal("2001:ee0::1") is None
    assert refusal("10.1.2.3", parse_networks(["10.0.0.0/8"])) is None
    assert refusal("10.1.2.3", parse_networks(["10.2.0.0/16"])) == "a private address"


def test_a_host_that_does_not_exist_fails_at_once(tmp_path):
    try:
        socket.getaddrinfo("khong-co-that.invalid", 80)
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_NONAME:
            pytest.skip(f"this machine's resolver does not answer: {exc}")
    else:
        pytest.skip("this machine's resolver answers for .invalid names")
    started = time.monotonic()
    report = harvest([Site("http://khong-co-that.invalid/")], tmp_path,
                     HarvestOptions(**{**QUICK, "retries": 3, "backoff": 1.0})).to_dict()
    assert report["failures"] == [{"url": "http://khong-co-that.invalid/",
                                   "reason": "site unreachable: host not found: "
                                             "khong-co-that.invalid"}]
    assert time.monotonic() - started < 5.0  # not retried (backoff 1 + 2 + 4 s)


def test_soft_404_probe_large_sitemaps_and_the_discovery_limit(tmp_path):
    arts = articles_of("baomoi")[:2]
    with SiteServer() as soft, SiteServer() as big:
        # Every unknown address answers 200 with the home page: /sitemap.xml is no
        # sitemap there, and that is no failure.
        soft.fallback = Route(b"<html><body><h1>Trang chu</h1></body></html>")
        report = harvest([Site(soft.base + "/")], tmp_path / "soft",
                         HarvestOptions(**QUICK)).to_dict()
        assert report["failures"] == [] and soft.hits("/sitemap.xml"), report
        # A sitemap larger than the page limit (1 MB here) is read: sitemaps may have 50 MB.
        paths = [wf.article_path(a, "baomoi") for a in arts]
        for art, path in zip(arts, paths, strict=True):
            big.routes[path] = page(art, "baomoi")
        padding = "<!-- " + "đệm " * 400_000 + "-->"
        big.routes["/sitemap.xml"] = Route(
            ("<urlset>" + padding + "".join(f"<url><loc>{big.base}{p}</loc></url>"
                                            for p in paths) + "</urlset>").encode(),
            content_type="application/xml")
        assert len(big.routes["/sitemap.xml"].body) > QUICK["max_bytes"]
        target = [Site(big.base + "/", start=(big.base + "/sitemap.xml",))]
        report = harvest(target, tmp_path / "big", HarvestOptions(**QUICK)).to_dict()
        assert (report["new"], report["failed"]) == (2, 0), report
        # The number of discovery documents per run is a limit, and reported as one.
        big.routes["/robots.txt"] = Route(
            f"Sitemap: {big.base}/a.xml\nSitemap: {big.base}/b.xml\nSitemap: {big.base}/c.xml\n"
            .encode(), content_type="text/plain")
        for name in "abc":
            big.routes[f"/{name}.xml"] = big.routes["/sitemap.xml"]
        report = harvest(target, tmp_path / "cap",
                         HarvestOptions(**{**QUICK, "max_documents": 2})).to_dict()
        assert report["failures"] == [] and report["limits"] == [{
            "url": big.base + "/",
            "reason": "discovery stopped after 2 documents; 2 more not read"}], report


def test_sitemap_gzip_feeds_entities_and_bombs():
    from indexer.harvest.discover import MAX_SITEMAP_BYTES
    from indexer.harvest.discover import DiscoveryError
    from indexer.harvest.discover import parse_feed
    from indexer.harvest.discover import parse_sitemap

    sitemap = gzip.compress(b"<urlset><url><loc>http://x.vn/a</loc></url>"
                            b"<url><loc>http://x.vn:70000/b</loc></url></urlset>")
    found = parse_sitemap(sitemap, "http://x.vn/s.xml.gz")
    assert found.pages == [("http://x.vn/a", None)]
    assert found.invalid == [("http://x.vn:70000/b", "Port out of range 0-65535")]
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link rel="alternate" '
            b'href="/b.html"/></entry><entry><link href="http://[x/c"/></entry></feed>')
    feed = parse_feed(atom, "http://x.vn/atom")
    assert feed.links == ["http://x.vn/b.html"]
    assert feed.invalid == [("http://[x/c", "Invalid IPv6 URL")]
    # Entities are not expanded (no billion laughs): the <loc> holds no text at all.
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]><urlset><url><loc>&b;</loc></url>'
              b'<url><loc>http://x.vn/c</loc></url></urlset>')
    assert parse_sitemap(laughs, "http://x.vn/").pages == [("http://x.vn/c", None)]
    with pytest.raises(DiscoveryError, match="not a sitemap"):
        parse_sitemap(b"<html><body/></html>", "http://x.vn/")
    # A gzip bomb is refused once the limit is reached, not after inflating it whole.
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = b"\0" * (1 << 20)
    bomb = b"".join(packer.compress(megabyte) for _ in range(3 * MAX_SITEMAP_BYTES >> 20))
    bomb += packer.flush()
    tracemalloc.start()
    try:
        with pytest.raises(DiscoveryError, match="more than 52,428,800 bytes"):
            parse_sitemap(bomb, "http://x.vn/sitemap.xml.gz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The limit's output and its copy into one bytes object; never the whole bomb (3x).
    assert peak < 2.5 * MAX_SITEMAP_BYTES, peak


def test_a_killed_runs_part_file_is_cut_after_its_last_complete_record(tmp_path):
    from indexer.harvest.archive import SiteArchive
    from indexer.harvest.archive import recover_parts

    archive = SiteArchive(tmp_path, "http://x.vn/", "test")
    for number in range(3):
        store_article(archive, number)
    part = archive.path.with_name(archive.path.name + ".part")
    whole = part.read_bytes()
    archive._stream.close()  # the run is killed: the file stays a .part
    copy = part.with_name("copy.warc.gz")
    for cut in (1000, 1500):  # inside the last response record (a request record follows)
        part.write_bytes(whole[:-cut])
        copy.write_bytes(whole[:-cut])
        # As it is, a build reports the cut record as damage and keeps the others.
        found = list(iter_articles([copy]))
        damaged = [item for item in found if isinstance(item, Skipped)]
        assert len(damaged) == 1 and "damaged WARC archive" in damaged[0].reason, found
        assert len(found) == 3
        (recovered,) = recover_parts(tmp_path)
        found = list(iter_articles([recovered]))
        assert not [item for item in found if isinstance(item, Skipped)], found
        assert sorted(item.id for item in found) == ["http://x.vn/0.htm", "http://x.vn/1.htm"]
        recovered.rename(part)
        copy.unlink()
