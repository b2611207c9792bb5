{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='flight_date',
        on_schema_change='fail',
        tags=['daily'],
    )
}}

-- Each flight in the window with the weather at its origin during its scheduled departure hour
-- (local date + local hour; left join, so flights without an observation keep null weather)
-- and its carrier's name. Grain: one row per flight, as in stg_flights.
with flights as (

    select * from {{ ref('stg_flights') }}
    where {{ in_window('flight_date') }}

),

weather as (

    select * from {{ ref('stg_weather') }}
    where {{ in_window('flight_date') }}

),

airlines as (

    select * from {{ ref('stg_airlines') }}

)

select
    flights.flight_date,
    flights.carrier,
    airlines.carrier_name,
    flights.flight_number,
    flights.tailnum,
    flights.origin,
    flights.dest,
    flights.scheduled_dep_time,
    flights.scheduled_dep_hour,
    flights.scheduled_dep_minute,
    flights.scheduled_dep_hour_at,
    flights.dep_time,
    flights.dep_delay,
    flights.scheduled_arr_time,
    flights.arr_time,
    flights.arr_delay,
    flights.air_time,
    flights.distance,
    flights.is_cancelled,
    flights.is_on_time_arrival,
    (weather.origin is not null)  as has_weather,
    weather.temp_f,
    weather.dewpoint_f,
    weather.humidity_pct,
    weather.wind_dir_deg,
    weather.wind_speed_mph,
    weather.wind_gust_mph,
    weather.precip_in,
    weather.pressure_mb,
    weather.visibility_mi
from flights
left join weather
    on  weather.origin = flights.origin
    and weather.flight_date = flights.flight_date
    and weather.observation_hour = flights.scheduled_dep_hour
left join airlines
    on airlines.carrier = flights.carrier
