{{ config(unique_key='flight_date') }}

-- Each flight in the window with the weather at its origin during its scheduled departure hour
-- (local date + local hour; left join, so flights without an observation keep null weather)
-- and its carrier's name, airports' names and plane. Grain: one row per flight, as in stg_flights.
-- Joining the dimensions here also makes them upstream of every daily model, so Dagster builds
-- them first and the relationships tests on stg_flights run in the daily build.
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

),

airports as (

    select * from {{ ref('stg_airports') }}

),

planes as (

    select * from {{ ref('stg_planes') }}

)

select
    flights.flight_date,
    flights.carrier,
    airlines.carrier_name,
    flights.flight_number,
    flights.tailnum,
    flights.origin,
    origin_airport.airport_name   as origin_name,
    flights.dest,
    dest_airport.airport_name     as dest_name,
    planes.manufacture_year       as plane_manufacture_year,
    planes.aircraft_type          as plane_aircraft_type,
    planes.engine_count           as plane_engine_count,
    planes.seat_count             as plane_seat_count,
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
left join airports as origin_airport
    on origin_airport.airport_code = flights.origin
left join airports as dest_airport
    on dest_airport.airport_code = flights.dest
left join planes
    on planes.tailnum = flights.tailnum
