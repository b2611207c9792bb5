{{ config(unique_key='flight_date') }}

-- One row per scheduled departure in the window [start_date, end_date).
with source as (

    select * from {{ source('raw', 'flights') }}
    where {{ in_window('partition_date') }}

)

select
    cast(partition_date as date)                       as flight_date,
    cast(carrier as {{ dbt.type_string() }})           as carrier,
    cast(flight as {{ dbt.type_int() }})               as flight_number,
    cast(tailnum as {{ dbt.type_string() }})           as tailnum,
    cast(origin as {{ dbt.type_string() }})            as origin,
    cast(dest as {{ dbt.type_string() }})              as dest,
    cast(sched_dep_time as {{ dbt.type_int() }})       as scheduled_dep_time,
    cast(hour as {{ dbt.type_int() }})                 as scheduled_dep_hour,
    cast(minute as {{ dbt.type_int() }})               as scheduled_dep_minute,
    time_hour                                          as scheduled_dep_hour_at,
    cast(dep_time as {{ dbt.type_int() }})             as dep_time,
    cast(dep_delay as {{ type_double() }})             as dep_delay,
    cast(sched_arr_time as {{ dbt.type_int() }})       as scheduled_arr_time,
    cast(arr_time as {{ dbt.type_int() }})             as arr_time,
    cast(arr_delay as {{ type_double() }})             as arr_delay,
    cast(air_time as {{ type_double() }})              as air_time,
    cast(distance as {{ type_double() }})              as distance,
    (dep_time is null)                                 as is_cancelled,
    coalesce(arr_delay <= 15, false)                   as is_on_time_arrival
from source
