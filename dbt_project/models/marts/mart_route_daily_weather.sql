{{ config(unique_key='flight_date') }}

-- Daily delays per route (origin -> dest) next to the weather at the origin during the hours the
-- route's flights were scheduled to depart. Weather is aggregated over the distinct observed
-- departure hours (not per flight), so two flights in the same hour do not double-count precip.
with flights as (

    select * from {{ ref('int_flights_with_weather') }}
    where {{ in_window('flight_date') }}

),

route_delays as (

    select
        flight_date,
        origin,
        dest,
        count(*)                                   as flights,
        count(case when is_cancelled then 1 end)   as cancelled_flights,
        count(case when has_weather then 1 end)    as flights_with_weather,
        avg(dep_delay)                             as avg_dep_delay,
        avg(arr_delay)                             as avg_arr_delay
    from flights
    group by flight_date, origin, dest

),

route_departure_hours as (

    -- weather is unique per (origin, date, hour), so this is one row per observed hour
    select distinct
        flight_date,
        origin,
        dest,
        scheduled_dep_hour,
        temp_f,
        wind_speed_mph,
        precip_in,
        visibility_mi
    from flights
    where has_weather

),

route_weather as (

    select
        flight_date,
        origin,
        dest,
        avg(temp_f)          as avg_temp,
        avg(wind_speed_mph)  as avg_wind_speed,
        sum(precip_in)       as total_precip,
        avg(visibility_mi)   as avg_visib
    from route_departure_hours
    group by flight_date, origin, dest

)

select
    route_delays.flight_date,
    route_delays.origin,
    route_delays.dest,
    route_delays.flights,
    route_delays.cancelled_flights,
    route_delays.avg_dep_delay,
    route_delays.avg_arr_delay,
    route_weather.avg_temp,
    route_weather.avg_wind_speed,
    route_weather.total_precip,
    route_weather.avg_visib,
    route_delays.flights_with_weather,
    cast(route_delays.flights_with_weather as {{ type_double() }})
        / route_delays.flights                          as weather_observed_share
from route_delays
left join route_weather
    on  route_weather.flight_date = route_delays.flight_date
    and route_weather.origin = route_delays.origin
    and route_weather.dest = route_delays.dest
