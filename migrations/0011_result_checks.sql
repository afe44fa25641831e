-- How a slot's results are checked for people: 'off', 'at_least_one', 'as_many_as_guest';
-- NULL follows the slot's type.
ALTER TABLE slots ADD COLUMN people_check TEXT;

-- What the result checks made of an attempt's image (JSON); NULL where no check ran.
ALTER TABLE attempts ADD COLUMN check_json TEXT;

-- The verdict of the image the booth got, where its image was checked ('passed', or 'people'
-- for an image answered although people were missing).
ALTER TABLE jobs ADD COLUMN check_verdict TEXT;
