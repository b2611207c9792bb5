{{ config(unique_key='flight_date') }}

-- Daily on-time performance by carrier and NYC origin airport.
-- on_time_rate = on_time_arrivals / flights: cancelled and diverted flights count as not on time.
with flights as (

    select * from {{ ref('int_flights_with_weather') }}
    where {{ in_window('flight_date') }}

)

select
    flight_date,
    carrier,
    carrier_name,
    origin,
    count(*)                                                      as flights,
    count(case when is_cancelled then 1 end)                      as cancelled_flights,
    count(case when is_on_time_arrival then 1 end)                as on_time_arrivals,
    cast(count(case when is_on_time_arrival then 1 end) as {{ type_double() }})
        / count(*)                                                as on_time_rate,
    avg(dep_delay)                                                as avg_dep_delay,
    avg(arr_delay)                                                as avg_arr_delay
from flights
group by flight_date, carrier, carrier_name, origin
