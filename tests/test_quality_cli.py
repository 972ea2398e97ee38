"""`guanai site set`: a region's review distance, back-dating allowance and phone-check share,
inherited by the sites under it; a value out of bounds is refused in one line."""

from __future__ import annotations

import datetime as dt

from domain.care import review
from domain.db import UnitOfWork, make_engine, make_sessionmaker
from domain.models import RegionKind
from domain.people import regions
from tests.cli_support import Guanai
from tests.conftest import SHANGHAI

AT = dt.datetime(2026, 11, 16, 10, tzinfo=SHANGHAI)


async def test_site_set_is_inherited_and_bounded(guanai: Guanai, db_url: str) -> None:
    engine = make_engine(db_url, pool_size=1)
    try:
        async with UnitOfWork(make_sessionmaker(engine)) as uow:
            await regions.add_region(
                uow.session,
                code="T1",
                name="中和镇",
                kind=RegionKind.township,
                parent_code=None,
                at=AT,
            )
            await regions.add_region(
                uow.session,
                code="S1",
                name="中和小学",
                kind=RegionKind.school,
                parent_code="T1",
                at=AT,
            )
            await uow.commit()
        guanai.env["DATABASE_URL"] = db_url
        result = await guanai(
            "site", "set", "T1", "--review-distance-m", "5000", "--sample-percent", "5"
        )
        assert result.code == 0, result.err
        assert "离家超过 5000 米或补记超过 2 天的打卡要审核；每月抽 5% 的家访电话回访" in result.out
        result = await guanai("site", "set", "S1", "--review-days-back", "9")
        assert result.code != 0
        assert (
            result.err.strip().splitlines()[-1] == "错误：--review-days-back 必须在 0 到 7 之间。"
        )
        async with make_sessionmaker(engine)() as session:
            school = await regions.by_code(session, "S1")
            rules = (await review.site_rules(session, [school.path]))[school.path]
        assert rules == review.SiteRules(distance_m=5000, days_back=2, sample_percent=5.0)
    finally:
        await engine.dispose()
