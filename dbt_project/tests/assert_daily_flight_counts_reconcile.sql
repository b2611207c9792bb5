-- Attached in Dagster as a check on mart_carrier_origin_daily (the last model it reads).
{{ config(tags=['daily'], meta={'dagster': {'ref': {'name': 'mart_carrier_origin_daily'}}}) }}

-- For every day of the current window the flight count must agree across the chain:
-- raw.flights rows = stg_flights rows = int_flights_with_weather rows (the weather join must not
-- fan out) = sum(flights) in mart_carrier_origin_daily = sum(flights) in mart_route_daily_weather.
-- Returns the days that disagree.
with raw_daily as (
    select partition_date as flight_date, count(*) as n
    from {{ source('raw', 'flights') }}
    where {{ in_window('partition_date') }}
    group by partition_date
),

stg_daily as (
    select flight_date, count(*) as n
    from {{ ref('stg_flights') }}
    where {{ in_window('flight_date') }}
    group by flight_date
),

int_daily as (
    select flight_date, count(*) as n
    from {{ ref('int_flights_with_weather') }}
    where {{ in_window('flight_date') }}
    group by flight_date
),

carrier_mart_daily as (
    select flight_date, sum(flights) as n
    from {{ ref('mart_carrier_origin_daily') }}
    where {{ in_window('flight_date') }}
    group by flight_date
),

route_mart_daily as (
    select flight_date, sum(flights) as n
    from {{ ref('mart_route_daily_weather') }}
    where {{ in_window('flight_date') }}
    group by flight_date
),

all_days as (
    select flight_date from raw_daily
    union select flight_date from stg_daily
    union select flight_date from int_daily
    union select flight_date from carrier_mart_daily
    union select flight_date from route_mart_daily
)

select
    all_days.flight_date,
    raw_daily.n           as raw_flights,
    stg_daily.n           as stg_flights,
    int_daily.n           as int_flights,
    carrier_mart_daily.n  as carrier_mart_flights,
    route_mart_daily.n    as route_mart_flights
from all_days
left join raw_daily on raw_daily.flight_date = all_days.flight_date
left join stg_daily on stg_daily.flight_date = all_days.flight_date
left join int_daily on int_daily.flight_date = all_days.flight_date
left join carrier_mart_daily on carrier_mart_daily.flight_date = all_days.flight_date
left join route_mart_daily on route_mart_daily.flight_date = all_days.flight_date
where coalesce(raw_daily.n, 0) <> coalesce(stg_daily.n, 0)
   or coalesce(raw_daily.n, 0) <> coalesce(int_daily.n, 0)
   or coalesce(raw_daily.n, 0) <> coalesce(carrier_mart_daily.n, 0)
   or coalesce(raw_daily.n, 0) <> coalesce(route_mart_daily.n, 0)
